"""How far the lossy goldens' decoded output moves on CPUs with other vector units.

Decodes every image, audio and video golden in fresh processes with torch's instruction sets
capped (the settings of tests/conformance/test_other_cpus.py) and prints a markdown table:
largest difference from the stored reference decode (in output steps) and the share of
values that differ, per file and setting.

    python tools/eval_cpu_spread.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conformance.test_other_cpus import CPUS  # noqa: E402

MEASURE = """
import json, numpy as np, codec
from models.image.codec import QUALITIES
from tests.conformance import golden as g
cases = [(f"image q{q}", g.image_file(q), lambda m: m, lambda a: a) for q in QUALITIES]
audio = list(g.AUDIO_FILES.items()) + [("legacy", g.AUDIO_LEGACY)]
cases += [(f"audio {n}", p, g.pcm, lambda a: a[:, :: g.AUDIO_STRIDE]) for n, p in audio]
video = (("nerv", g.VIDEO_FILE), ("hyper", g.VIDEO_HYPER_FILE))
cases += [(f"video {n}", p, g.frames, lambda a: a[:: g.VIDEO_STRIDE]) for n, p in video]
out = {}
for name, path, as_array, stride in cases:
    array = stride(as_array(codec.decode(path.read_bytes()).media)).astype(np.int64)
    off = np.abs(array - g.read_reference(path).astype(np.int64))
    out[name] = [int(off.max()), float(np.mean(off > 0))]
print(json.dumps(out))
"""


def main() -> None:
    results = {}
    for cpu, caps in CPUS.items():
        run = subprocess.run(
            [sys.executable, "-c", MEASURE],
            cwd=ROOT,
            env={**os.environ, **caps},
            capture_output=True,
            text=True,
            check=True,
        )
        results[cpu] = json.loads(run.stdout.splitlines()[-1])
    print("| golden | " + " | ".join(f"{cpu}: max steps, values off" for cpu in CPUS) + " |")
    print("|---|" + "---|" * len(CPUS))
    for name in results[next(iter(CPUS))]:
        cells = [f"{results[c][name][0]}, {results[c][name][1]:.4%}" for c in CPUS]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

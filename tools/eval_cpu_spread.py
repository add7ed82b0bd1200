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

from tests.conformance.golden import lossy_goldens, reference_offsets  # noqa: E402
from tests.conformance.test_other_cpus import CPUS  # noqa: E402


def measure() -> dict[str, list[float]]:
    """{golden: [largest offset in steps, share of values off]} in this process."""
    import codec

    out = {}
    for name, (path, output) in lossy_goldens().items():
        array = output.as_array(codec.decode(path.read_bytes()).media)
        off = reference_offsets(path, output, array)
        out[name] = [int(off.max()), float((off > 0).mean())]
    return out


def main() -> None:
    if "--measure" in sys.argv:  # one capped run (a fresh process: the caps apply at load)
        print(json.dumps(measure()))
        return
    results = {}
    for cpu, caps in CPUS.items():
        run = subprocess.run(
            [sys.executable, __file__, "--measure"],
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

"""Audio round-trip speed of this tree against another revision, side by side.

    python tools/bench_audio.py [--against REV] [--rounds 3] [--repeats 4] [--threads 2]

The file is eval_audio's "music-wide" (20 s of ../shared/data/audio/eval/music_24k.wav with
a wide stereo image: mid and side both coded), at the default 6 kbps RVQ. Each round starts
one fresh process per tree, alternating (this machine's wall clock drifts by 10-20 % over
minutes, so the trees take turns); a process does one untimed round trip
(``codec.encode_file`` + ``codec.decode_file``), then ``--repeats`` timed ones. Prints per
process the minimum and median seconds and the real-time factors, then the ratio of the
medians. ``--against`` checks REV out into a temporary git worktree (removed afterwards).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
import torch
torch.set_num_threads({threads})
import codec
src, out, wav = {src!r}, {out!r}, {wav!r}
codec.encode_file(src, out, force=True)
codec.decode_file(out, wav, force=True)
times = []
for _ in range({repeats}):
    start = time.perf_counter()
    codec.encode_file(src, out, force=True)
    codec.decode_file(out, wav, force=True)
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def round_trips(tree: Path, src: Path, tmp: Path, repeats: int, threads: int) -> list[float]:
    script = _CHILD.format(
        root=str(tree),
        threads=threads,
        src=str(src),
        out=str(tmp / "bench.ncdc"),
        wav=str(tmp / "bench.wav"),
        repeats=repeats,
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{tree}: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from tools.eval_audio import read, wide_stereo

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        src = wide_stereo(tmp)
        samples, rate = read(src)
        seconds = samples.shape[1] / rate
        trees = {"this tree": ROOT}
        if args.against:
            other = tmp / "against"
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(other), args.against],
                check=True,
                capture_output=True,
            )
            trees = {args.against: other, **trees}
        medians: dict[str, list[float]] = {name: [] for name in trees}
        try:
            for _ in range(args.rounds):
                for name, tree in trees.items():
                    times = round_trips(tree, src, tmp, args.repeats, args.threads)
                    median = statistics.median(times)
                    medians[name].append(median)
                    print(
                        f"{name:>12}: min {min(times):.3f} s, median {median:.3f} s "
                        f"= {seconds / min(times):.1f}x / {seconds / median:.1f}x real time",
                        flush=True,
                    )
        finally:
            if args.against:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)],
                    check=False,
                    capture_output=True,
                )
        if args.against:
            ratio = statistics.median(medians[args.against]) / statistics.median(
                medians["this tree"]
            )
            print(f"this tree is {ratio:.2f}x as fast as {args.against} (median of medians)")


if __name__ == "__main__":
    main()

"""Start-up time of the fast CLI paths (``codec info``, ``codec --help``), as subprocesses.

    python tools/bench_cli.py [--runs 10]

Prints a markdown table (median and max wall time over the runs) for docs/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import codec

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "mandelbrot_320x240.pgm"


def timed(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        encoded = Path(tmp) / "sample.ncdc"
        codec.encode_file(SAMPLE, encoded, kind="raw")
        print("| command | median s | max s |")
        print("|---|---:|---:|")
        for label, command in (
            ("codec info sample.ncdc", ["-m", "codec", "info", str(encoded)]),
            ("codec --help", ["-m", "codec", "--help"]),
            ("python -c pass (interpreter start)", ["-c", "pass"]),
        ):
            times = timed([sys.executable, *command], runs)
            print(f"| {label} | {statistics.median(times):.3f} | {max(times):.3f} |")


if __name__ == "__main__":
    main()

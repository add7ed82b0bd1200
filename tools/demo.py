"""The README demo: encode and decode a bundled sample with the CLI, print sizes and quality.

    python tools/demo.py            (``make demo`` runs this inside .venv)

Outputs go to out/demo/ (ignored by git).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "mandelbrot_320x240.pgm"
OUT = ROOT / "out" / "demo"


def run(*args: str) -> None:
    print("$ codec " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "codec", *args], check=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    encoded, decoded = OUT / "sample.ncdc", OUT / "sample_decoded.pgm"
    start = time.perf_counter()
    run("encode", str(SAMPLE), str(encoded), "--kind", "raw", "--force")
    run("decode", str(encoded), str(decoded), "--force")
    run("info", str(encoded))
    seconds = time.perf_counter() - start
    n_in, n_out = SAMPLE.stat().st_size, encoded.stat().st_size
    identical = sha256(SAMPLE) == sha256(decoded)
    print()
    print(f"input     {SAMPLE.relative_to(ROOT)}: {n_in} bytes")
    print(f"encoded   {n_out} bytes, ratio {n_in / n_out:.2f}x, {8 * n_out / n_in:.3f} bits/byte")
    verdict = "identical (sha256 match)" if identical else "MISMATCH"
    print(f"quality   lossless round trip: {verdict}")
    print(f"time      {seconds:.2f} s for encode + decode + info (three CLI runs)")
    if not identical:
        sys.exit(1)


if __name__ == "__main__":
    main()

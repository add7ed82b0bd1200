"""Make the bundled samples in samples/ (procedural, so they carry no third-party rights).

    python tools/make_samples.py

samples/mandelbrot_320x240.pgm: an 8-bit grayscale rendering of the Mandelbrot set with
smooth (continuous escape-time) shading, used by the README demo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def mandelbrot(width: int, height: int, iterations: int = 256) -> np.ndarray:
    """(height, width) uint8 image of the Mandelbrot set around the seahorse valley."""
    x = np.linspace(-0.7530, -0.7370, width)
    y = np.linspace(0.0960, 0.1080, height)
    c = x[None, :] + 1j * y[:, None]
    z = np.zeros_like(c)
    smooth = np.zeros(c.shape)
    alive = np.ones(c.shape, dtype=bool)
    for i in range(iterations):
        z[alive] = z[alive] ** 2 + c[alive]
        escaped = alive & (np.abs(z) > 4)
        smooth[escaped] = i + 1 - np.log2(np.log(np.abs(z[escaped])))
        alive &= ~escaped
    shade = np.sqrt(smooth / iterations)
    return np.round(255 * shade / shade.max()).astype(np.uint8)


def write_pgm(image: np.ndarray, path: Path) -> None:
    height, width = image.shape
    path.write_bytes(f"P5\n{width} {height}\n255\n".encode() + image.tobytes())


if __name__ == "__main__":
    SAMPLES.mkdir(exist_ok=True)
    out = SAMPLES / "mandelbrot_320x240.pgm"
    write_pgm(mandelbrot(320, 240), out)
    print(f"wrote {out} ({out.stat().st_size} bytes)")

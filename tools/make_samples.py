"""Make the bundled samples in samples/ (procedural, so they carry no third-party rights).

    python tools/make_samples.py

samples/mandelbrot_320x240.pgm: an 8-bit grayscale rendering of the Mandelbrot set with
smooth (continuous escape-time) shading.
samples/seeding_384x256.png: "seeding" by Clemens Engelhardt (CC0-1.0, Debian package
lomiri-wallpapers-16.04), downscaled 5x and cropped; the README demo's photo.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.fetch_image_data import extract_packages  # noqa: E402

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


def cc0_photo(out: Path) -> None:
    """A CC0 photograph from a Debian wallpaper package, downscaled to 384x256."""
    with tempfile.TemporaryDirectory() as tmp:
        root = extract_packages(Path(tmp), ("lomiri-wallpapers-16.04",))
        (source,) = root.rglob("seeding_by_Clements_Engelhardt.jpg")
        image = Image.open(source).convert("RGB")
        image = image.resize((image.width // 5, image.height // 5), Image.Resampling.LANCZOS)
        left, top = (image.width - 384) // 2, (image.height - 256) // 2
        image.crop((left, top, left + 384, top + 256)).save(out, optimize=True)


if __name__ == "__main__":
    SAMPLES.mkdir(exist_ok=True)
    outputs = (SAMPLES / "mandelbrot_320x240.pgm", SAMPLES / "seeding_384x256.png")
    write_pgm(mandelbrot(320, 240), outputs[0])
    cc0_photo(outputs[1])
    for out in outputs:
        print(f"wrote {out} ({out.stat().st_size} bytes)")

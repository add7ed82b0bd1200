"""Image files <-> (H, W, C) uint8 arrays, C = 1 (grayscale) or 3 (RGB), via Pillow.

Conversions, all documented in docs/image.md: palette images become RGB (exact colours);
an alpha channel that is fully opaque is dropped; a real (non-opaque) alpha channel, 16-bit
and floating-point images, and CMYK are refused with an InputError (the codec is for 8-bit
photographs; store such files with --kind raw).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from codec.errors import InputError

MAX_PIXELS = 1 << 28


def open_input(path: Path) -> contextlib.nullcontext[np.ndarray]:
    """Context manager yielding the decoded (H, W, 1|3) uint8 image."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(path) as image:
            image.load()
            return contextlib.nullcontext(to_array(image, str(path)))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from None


def to_array(image, name: str) -> np.ndarray:
    """Pillow image -> (H, W, 1|3) uint8, applying the documented conversions."""
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA"):
        alpha = np.asarray(image.getchannel("A"))
        if alpha.min() < 255:
            raise InputError(
                f"{name}: has a transparent alpha channel, which the image codec does not keep"
                " (flatten it first, or use --kind raw)"
            )
        image = image.convert("RGB" if mode == "RGBA" else "L")
        mode = image.mode
    if mode not in ("L", "RGB"):
        raise InputError(
            f"{name}: image mode {mode} is not supported (8-bit grayscale or RGB only;"
            " use --kind raw for 16-bit, float or CMYK images)"
        )
    array = np.asarray(image, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


def write(image: np.ndarray, path: Path) -> None:
    """Save (H, W, 1|3) uint8; the format follows the extension (PNG if unknown)."""
    from PIL import Image

    mode = "L" if image.shape[2] == 1 else "RGB"
    pil = Image.fromarray(image[:, :, 0] if mode == "L" else image, mode)
    suffix = path.suffix.lower()
    known = {".png": "PNG", ".bmp": "BMP", ".ppm": "PPM", ".pgm": "PPM", ".tif": "TIFF",
             ".tiff": "TIFF", ".webp": "WEBP", ".jpg": "JPEG", ".jpeg": "JPEG"}  # fmt: skip
    fmt = known.get(suffix, "PNG")
    options = {"lossless": True} if fmt == "WEBP" else {"quality": 95} if fmt == "JPEG" else {}
    pil.save(path, format=fmt, **options)


def collect(image: np.ndarray) -> np.ndarray:
    return image

"""8-bit image arrays for the lossless kind: PNG and other images, .npy stacks, MNIST idx files.

The media object is a uint8 array in one of the layouts (the last axis of size 3 means RGB):

    (H, W) one gray image        (H, W, 3) one RGB image
    (N, H, W) gray stack         (N, H, W, 3) RGB stack

Inputs: image files through Pillow (8-bit gray or RGB; palette images become RGB and a fully
opaque alpha channel is dropped, as for the image kind), ``.npy`` arrays (never pickled
objects) and idx3 ubyte files, gzip-compressed or not (MNIST's format). Decoding restores
the exact array; the output format follows the output name: ``.npy``, an image extension
(single images only; JPEG is refused), ``.gz`` (idx, gzip-compressed) or anything else (idx, plain).
"""

from __future__ import annotations

import contextlib
import gzip
import struct
from pathlib import Path

import numpy as np

from codec.errors import InputError

MAX_PIXELS = 1 << 28
IMAGE_SUFFIXES = (".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
_IDX_UBYTE = 0x08


def layout(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(N, H, W, C) of a media array shape; raises InputError for anything else."""
    rgb = len(shape) in (3, 4) and shape[-1] == 3
    core = shape[:-1] if rgb else shape
    if len(core) not in (2, 3) or min(shape, default=0) < 1:
        raise InputError(
            f"lossless input must be (H, W), (H, W, 3), (N, H, W) or (N, H, W, 3) with no"
            f" empty axis; got shape {tuple(shape)}"
        )
    n = core[0] if len(core) == 3 else 1
    return n, core[-2], core[-1], 3 if rgb else 1


def check(array: np.ndarray, name: str) -> np.ndarray:
    """Validate a media array (uint8, a known layout, bounded size)."""
    if array.dtype != np.uint8:
        raise InputError(f"{name}: lossless input must be uint8 (8-bit), got {array.dtype}")
    layout(array.shape)
    if array.size > MAX_PIXELS:
        raise InputError(f"{name}: {array.size} samples exceed the limit of {MAX_PIXELS}")
    return np.ascontiguousarray(array)


def _read_idx(path: Path, compressed: bool) -> np.ndarray:
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[:2] != b"\0\0" or head[2] != _IDX_UBYTE:
                raise InputError(f"{path}: not an idx file of unsigned bytes")
            dims = struct.unpack(f">{head[3]}I", f.read(4 * head[3]))
            count = int(np.prod(dims, dtype=np.int64))
            if count > MAX_PIXELS:
                raise InputError(f"{path}: idx shape {dims} exceeds the size limit")
            data = f.read(count + 1)
    except (OSError, EOFError, struct.error) as exc:
        raise InputError(f"{path}: unreadable idx file ({exc})") from None
    if len(data) != count:
        raise InputError(f"{path}: idx data has {len(data)} bytes, shape {dims} needs {count}")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _read_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable .npy array ({exc})") from None
    return np.array(array)


def _read_image(path: Path) -> np.ndarray:
    from codec.media import image

    with image.open_input(path) as pixels:
        return pixels[:, :, 0] if pixels.shape[2] == 1 else pixels


def open_input(path: Path) -> contextlib.nullcontext[np.ndarray]:
    """Context manager yielding the uint8 media array of ``path``."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x93NUMPY"):
        array = _read_npy(path)
    elif head[:2] == b"\x1f\x8b" or head[:3] == b"\0\0\x08":
        array = _read_idx(path, compressed=head[:2] == b"\x1f\x8b")
    else:
        array = _read_image(path)
    return contextlib.nullcontext(check(array, str(path)))


def _write_idx(array: np.ndarray, path: Path, compress: bool) -> None:
    head = struct.pack(f">BBBB{array.ndim}I", 0, 0, _IDX_UBYTE, array.ndim, *array.shape)
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(head)
        f.write(array.tobytes())


def write(array: np.ndarray, path: Path) -> None:
    """Save the media array; the format follows the suffix (see the module docstring)."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, array, allow_pickle=False)
    elif suffix in (".jpg", ".jpeg"):
        raise InputError(f"{path.name}: JPEG is lossy; decode to .png, .npy or an idx name")
    elif suffix in IMAGE_SUFFIXES:
        if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
            raise InputError(
                f"{path.name}: a stack of {array.shape[0]} images cannot be one image file;"
                " use .npy or an idx name (e.g. out-ubyte.gz)"
            )
        from codec.media import image

        image.write(array if array.ndim == 3 else array[:, :, None], path)
    else:
        _write_idx(array, path, compress=suffix == ".gz")


def collect(array: np.ndarray) -> np.ndarray:
    return array

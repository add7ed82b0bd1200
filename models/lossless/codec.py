"""The lossless codec (codec id ``lossless-v1``): 8-bit images coded with probabilistic circuits.

Two models, chosen by the input (metadata ``model``):

- ``mnist``: 28x28 grayscale images, each one a sample of the full-image MNIST circuit
  (784 variables, raster order). Chunks hold up to :data:`MNIST_BATCH` images each, one range
  stream per chunk. A single digit matches compact profile 1 of the container (8 bytes of
  container instead of ~70).
- ``patch``: anything else. Colour images are first turned into the planes G, R-G and B-G
  (mod 256: exact and invertible); every plane is replaced by its MED prediction residuals
  (models.lossless.predict) and cut into PxP patches, each one a sample of the patch
  circuit. Patches that stick out of the image are coded on their inside pixels only (the
  others are marginalised, not padded). One chunk per (image, plane, patch group),
  groups in the order: full patches, right column, bottom row, corner.

Metadata: ``shape`` (the array shape, restored exactly), ``layout`` (``gray`` / ``rgb``),
``model``. Decoding is bit-exact on every machine (integer circuits, models.lossless.integer).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from codec.container import ContainerHeader
from codec.errors import BitstreamError, InputError
from codec.media.lossless import layout
from codec.registry import Codec, DecodeOptions, Encoded, EncodeOptions
from models.lossless.coding import decode_pixels, encode_pixels
from models.lossless.predict import reconstruct, residuals
from models.lossless.weights import WEIGHTS_DIR, ShippedCircuit, load_circuit
from models.shipped import check_weights

MNIST_WEIGHTS = WEIGHTS_DIR / "mnist-pc-v1.safetensors"
PATCH_WEIGHTS = WEIGHTS_DIR / "patch-pc-v1.safetensors"
MNIST_SIDE = 28
MNIST_BATCH = 500
PATCH_BATCH = 8192
MAX_PLANE_PIXELS = 1 << 26


def to_planes(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) uint8 -> (N, C, H, W) coded planes (G, R-G, B-G mod 256 for RGB)."""
    planes = images.transpose(0, 3, 1, 2).copy()
    if planes.shape[1] == 3:
        green = images[..., 1]
        planes[:, 0] = green
        planes[:, 1] = images[..., 0] - green  # uint8 arithmetic wraps mod 256
        planes[:, 2] = images[..., 2] - green
    return planes


def from_planes(planes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_planes`."""
    if planes.shape[1] == 3:
        green = planes[:, 0]
        planes = np.stack([planes[:, 1] + green, green, planes[:, 2] + green], axis=1)
    return planes.transpose(0, 2, 3, 1)


def patch_groups(height: int, width: int, side: int) -> list[tuple[slice, slice, int, int]]:
    """Patch groups of a plane: (rows, cols, valid_h, valid_w), in coding order. ``rows`` /
    ``cols`` select the group's patch grid cells; valid_* is the inside part of a patch."""
    full_h, rest_h = divmod(height, side)
    full_w, rest_w = divmod(width, side)
    groups = [
        (slice(0, full_h), slice(0, full_w), side, side),
        (slice(0, full_h), slice(full_w, full_w + 1), side, rest_w),
        (slice(full_h, full_h + 1), slice(0, full_w), rest_h, side),
        (slice(full_h, full_h + 1), slice(full_w, full_w + 1), rest_h, rest_w),
    ]
    return [g for g in groups if g[0].stop > g[0].start and g[1].stop > g[1].start and g[2] * g[3]]


def _valid_order(side: int, valid_h: int, valid_w: int) -> list[int]:
    return [r * side + c for r in range(valid_h) for c in range(valid_w)]


class LosslessCodec(Codec):
    """Probabilistic-circuit lossless codec for 8-bit gray/RGB images and image stacks."""

    kind = "lossless"
    codec_id = "lossless-v1"

    def __init__(self, mnist: Path = MNIST_WEIGHTS, patch: Path = PATCH_WEIGHTS) -> None:
        self.paths = {"mnist": mnist, "patch": patch}

    def _circuit(self, model: str) -> ShippedCircuit:
        return load_circuit(self.paths[model])

    def encode(self, media: np.ndarray, options: EncodeOptions) -> Encoded:
        options.require_only("lossless codec")
        array = np.asarray(media)
        if array.dtype != np.uint8:
            raise InputError(f"lossless input must be uint8, got {array.dtype}")
        n, h, w, c = layout(array.shape)
        if h * w > MAX_PLANE_PIXELS:
            raise InputError(f"image of {h}x{w} pixels exceeds {MAX_PLANE_PIXELS} per image")
        images = array.reshape(n, h, w, c)
        model = "mnist" if (h, w, c) == (MNIST_SIDE, MNIST_SIDE, 1) else "patch"
        circuit = self._circuit(model)
        metadata = {
            "layout": "rgb" if c == 3 else "gray",
            "model": model,
            "shape": tuple(int(s) for s in array.shape),
        }
        if model == "mnist":
            chunks = self._encode_mnist(circuit, images.reshape(n, h * w))
        else:
            chunks = self._encode_patches(circuit, to_planes(images))
        return Encoded(chunks, metadata, circuit.weights_id)

    @staticmethod
    def _encode_mnist(circuit: ShippedCircuit, images: np.ndarray) -> Iterator[bytes]:
        order = range(images.shape[1])
        for start in range(0, len(images), MNIST_BATCH):
            yield encode_pixels(circuit.tables, images[start : start + MNIST_BATCH], order)

    @staticmethod
    def _encode_patches(circuit: ShippedCircuit, planes: np.ndarray) -> Iterator[bytes]:
        side = int(circuit.metadata["patch"])
        n, c, h, w = planes.shape
        groups = patch_groups(h, w, side)
        for image in range(n):
            for plane in range(c):
                cells = _cells(residuals(planes[image, plane]), side)
                for rows, cols, valid_h, valid_w in groups:
                    batch = cells[rows, cols].reshape(-1, side * side)
                    order = _valid_order(side, valid_h, valid_w)
                    yield b"".join(_encode_batches(circuit, batch, order))

    def decode(
        self, header: ContainerHeader, chunks: Iterator[bytes], options: DecodeOptions
    ) -> np.ndarray:
        meta = header.metadata
        model, shape = meta.get("model"), meta.get("shape")
        if model not in self.paths or not isinstance(shape, tuple):
            raise BitstreamError(f"lossless header has model {model!r} and shape {shape!r}")
        try:
            n, h, w, c = layout(shape)
        except InputError as exc:
            raise BitstreamError(f"lossless header: {exc}") from None
        if h * w > MAX_PLANE_PIXELS or meta.get("layout") != ("rgb" if c == 3 else "gray"):
            raise BitstreamError(f"lossless header: bad shape {shape} / layout")
        if model == "mnist" and (h, w, c) != (MNIST_SIDE, MNIST_SIDE, 1):
            raise BitstreamError(f"lossless header: mnist model with shape {shape}")
        circuit = self._circuit(model)
        check_weights(header.weights_id, circuit.weights_id)
        expected = (
            -(-n // MNIST_BATCH)
            if model == "mnist"
            else n * c * len(patch_groups(h, w, int(circuit.metadata["patch"])))
        )
        if len(header.chunks) != expected:
            raise BitstreamError(f"lossless file needs {expected} chunks, has {len(header.chunks)}")
        if model == "mnist":
            images = self._decode_mnist(circuit, chunks, n)
        else:
            images = from_planes(self._decode_patches(circuit, chunks, n, c, h, w))
        return images.reshape(shape)

    @staticmethod
    def _decode_mnist(circuit: ShippedCircuit, chunks: Iterator[bytes], n: int) -> np.ndarray:
        """(n, 784); memory grows with the data actually decoded, not with the header's n."""
        order = range(MNIST_SIDE * MNIST_SIDE)
        batches = [
            decode_pixels(circuit.tables, next(chunks), min(MNIST_BATCH, n - start), order)
            for start in range(0, n, MNIST_BATCH)
        ]
        return np.concatenate(batches)

    @staticmethod
    def _decode_patches(
        circuit: ShippedCircuit, chunks: Iterator[bytes], n: int, c: int, h: int, w: int
    ) -> np.ndarray:
        side = int(circuit.metadata["patch"])
        groups = patch_groups(h, w, side)
        images = []
        for _ in range(n):
            planes = np.empty((c, h, w), dtype=np.uint8)
            images.append(planes)
            for plane in range(c):
                cells = np.zeros((-(-h // side), -(-w // side), side, side), dtype=np.uint8)
                for rows, cols, valid_h, valid_w in groups:
                    count = (rows.stop - rows.start) * (cols.stop - cols.start)
                    order = _valid_order(side, valid_h, valid_w)
                    pixels = _decode_batches(circuit, next(chunks), count, order)
                    cells[rows, cols] = pixels.reshape(rows.stop - rows.start, -1, side, side)
                planes[plane] = reconstruct(_uncells(cells, h, w))
        return np.stack(images)


def _cells(plane: np.ndarray, side: int) -> np.ndarray:
    """(H, W) -> (ceil(H/side), ceil(W/side), side, side) patch grid (outside pixels 0)."""
    h, w = plane.shape
    padded = np.zeros((-(-h // side) * side, -(-w // side) * side), dtype=np.uint8)
    padded[:h, :w] = plane
    rows, cols = padded.shape[0] // side, padded.shape[1] // side
    return padded.reshape(rows, side, cols, side).transpose(0, 2, 1, 3)


def _uncells(cells: np.ndarray, h: int, w: int) -> np.ndarray:
    rows, cols, side, _ = cells.shape
    return cells.transpose(0, 2, 1, 3).reshape(rows * side, cols * side)[:h, :w]


def _encode_batches(circuit: ShippedCircuit, patches: np.ndarray, order: list[int]):
    """Length-prefixed streams of PATCH_BATCH patches each (bounded state memory)."""
    for start in range(0, len(patches), PATCH_BATCH):
        stream = encode_pixels(circuit.tables, patches[start : start + PATCH_BATCH], order)
        yield len(stream).to_bytes(4, "little") + stream


def _decode_batches(
    circuit: ShippedCircuit, chunk: bytes, count: int, order: list[int]
) -> np.ndarray:
    out, pos = [], 0
    for start in range(0, count, PATCH_BATCH):
        if pos + 4 > len(chunk):
            raise BitstreamError("lossless patch chunk truncated")
        size = int.from_bytes(chunk[pos : pos + 4], "little")
        stream = chunk[pos + 4 : pos + 4 + size]
        if len(stream) != size:
            raise BitstreamError("lossless patch chunk truncated")
        batch = min(PATCH_BATCH, count - start)
        out.append(decode_pixels(circuit.tables, stream, batch, order))
        pos += 4 + size
    if pos != len(chunk):
        raise BitstreamError("lossless patch chunk has trailing bytes")
    return np.concatenate(out)

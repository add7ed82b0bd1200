"""Uniform quantization of network tensors and their entropy coding (video nerv mode).

A tensor is stored as integers q and one float32 step per row group: value = q * step.
Weights use one step per tensor (``WEIGHT_BITS``), embeddings one per channel
(``EMBED_BITS``). The integers of a group are coded with the shared Laplace table family
(``entropy.IndexedLaplace``), its scale index chosen from the group's integers and stored, so
the decoder needs nothing but the stream. During fitting, :func:`fake_quantize` rounds with a
straight-through gradient (quantization-aware training).
"""

from __future__ import annotations

import functools
import struct

import numpy as np
import torch

from codec.errors import BitstreamError
from entropy import IndexedLaplace, SymbolDecoder, SymbolEncoder

WEIGHT_BITS = 5
EMBED_BITS = 6
_GROUP = struct.Struct("<fB")  # step, table index


def steps_for(tensor: torch.Tensor, bits: int, dim: int | None) -> torch.Tensor:
    """Quantization step per group (whole tensor if ``dim`` is None, else per index of
    ``dim``), so that the largest magnitude maps to 2**(bits-1) - 1."""
    top = tensor.abs().amax() if dim is None else tensor.abs().transpose(0, dim).flatten(1).amax(1)
    return torch.clamp(top, min=1e-8) / (2 ** (bits - 1) - 1)


def _expand(steps: torch.Tensor, tensor: torch.Tensor, dim: int | None) -> torch.Tensor:
    """Steps (one, or one per index of ``dim``) shaped to broadcast against ``tensor``."""
    if dim is None:
        return steps.reshape(())
    shape = [1] * tensor.dim()
    shape[dim] = -1
    return steps.reshape(shape)


def fake_quantize(
    tensor: torch.Tensor, bits: int, dim: int | None = None, steps: np.ndarray | None = None
) -> torch.Tensor:
    """Rounded to the quantization grid in the forward pass, identity gradient backward.
    ``steps``: a fixed grid (a residual segment keeps its key segment's steps)."""
    grid = steps_for(tensor.detach(), bits, dim) if steps is None else torch.from_numpy(steps)
    step = _expand(grid, tensor, dim)
    return tensor + (torch.round(tensor / step) * step - tensor).detach()


def quantize(
    tensor: torch.Tensor, bits: int, dim: int | None = None, steps: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(int64 array of the tensor's shape, float32 steps (groups,)); ``steps``: fixed grid."""
    if steps is None:
        steps = np.atleast_1d(steps_for(tensor.detach(), bits, dim).float().numpy())
    step = _expand(torch.from_numpy(steps.astype(np.float32)), tensor, dim)
    q = torch.round(tensor.detach() / step).to(torch.int64)
    return q.numpy(), steps.astype(np.float32)


def dequantize(q: np.ndarray, steps: np.ndarray, dim: int | None = None) -> torch.Tensor:
    values = torch.from_numpy(q.astype(np.float32))
    return values * _expand(torch.from_numpy(steps), values, dim)


def _groups(q: np.ndarray, dim: int | None) -> list[np.ndarray]:
    return [q.reshape(-1)] if dim is None else [np.moveaxis(q, dim, 0)[i].reshape(-1)
                                                for i in range(q.shape[dim])]  # fmt: skip


@functools.cache
def laplace_family() -> IndexedLaplace:
    """One shared instance, so its constriction models are built once per process."""
    return IndexedLaplace()


def encode_group(encoder: SymbolEncoder, values: np.ndarray) -> int:
    """Code flat integers with the Laplace table that fits their spread; its index."""
    family = laplace_family()
    spread = max(float(values.std()), 0.11) if values.size else 1.0
    index = int(family.scale_index(np.array([spread]))[0])
    family.encode(encoder, values, np.full(values.size, index))
    return index


def encode_tensors(items: list[tuple[np.ndarray, np.ndarray, int | None]]) -> bytes:
    """items: (integers, steps, dim) per tensor -> group headers + one ANS stream."""
    encoder = SymbolEncoder()
    header = bytearray()
    for q, steps, dim in items:
        for group, step in zip(_groups(q, dim), steps, strict=True):
            header += _GROUP.pack(float(step), encode_group(encoder, group))
    stream = encoder.to_bytes()
    return struct.pack("<I", len(header)) + bytes(header) + stream


def decode_tensors(
    data: bytes, shapes: list[tuple[tuple[int, ...], int | None]]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inverse of :func:`encode_tensors` for tensors of the given (shape, dim)."""
    family = laplace_family()
    if len(data) < 4:
        raise BitstreamError("video segment chunk truncated")
    (header_len,) = struct.unpack_from("<I", data)
    groups = sum(1 if dim is None else shape[dim] for shape, dim in shapes)
    if header_len != groups * _GROUP.size or 4 + header_len > len(data):
        raise BitstreamError("video segment chunk: bad tensor header")
    decoder = SymbolDecoder(data[4 + header_len :])
    out, position = [], 4
    for shape, dim in shapes:
        count = 1 if dim is None else shape[dim]
        moved = (shape[dim], *shape[:dim], *shape[dim + 1 :]) if dim is not None else (1, *shape)
        size = int(np.prod(moved[1:], dtype=np.int64))
        values, steps = np.empty((count, size), dtype=np.int64), np.empty(count, np.float32)
        for g in range(count):
            steps[g], index = _GROUP.unpack_from(data, position)
            position += _GROUP.size
            if not (np.isfinite(steps[g]) and steps[g] > 0):
                raise BitstreamError(f"video segment chunk: bad quantization step {steps[g]}")
            values[g] = family.decode(decoder, np.full(size, index))
        q = values.reshape(moved)
        out.append((q.reshape(shape) if dim is None else np.moveaxis(q, 0, dim), steps))
    decoder.finish()
    return out


KEY, RESIDUAL = 0, 1  # first byte of a segment chunk


def pack_segment(fitted, previous: list[np.ndarray] | None = None) -> bytes:
    """A :class:`models.video.fit.FittedSegment` -> its chunk: a kind byte, then the weights
    and the embeddings (:func:`encode_tensors`). ``previous``: the weight integers of the
    segment before, on the same grid (the fit kept its steps): the weights are coded as the
    difference to them (RESIDUAL); None: as they are (KEY)."""
    if previous is None:
        items = [(q, steps, None) for q, steps in fitted.weights]
    else:
        pairs = zip(fitted.weights, previous, strict=True)
        items = [(q - p, steps, None) for (q, steps), p in pairs]
    kind = KEY if previous is None else RESIDUAL
    return bytes([kind]) + encode_tensors([*items, (*fitted.embeddings, 1)])

"""Near-lossless coding of float tensors: quantized residuals against the previous *decoded*
checkpoint (closed loop, so errors never accumulate along a series).

Two domains (docs/checkpoint.md), both computed with exact arithmetic only:

- **value**: ``q = round((x - ref) / step)`` with ``step = 2 * bound * rms(x)`` (float64);
  the decoded value ``ref + q * step`` is within ``bound * rms(x)`` of ``x`` plus half an
  ulp of the stored dtype. Residuals below half a step become 0: the element keeps its
  reference value (magnitude pruning, as in ExCP).
- **relative**: for non-negative second-moment states (Adam ``exp_avg_sq``): the same on
  the float's order-preserving integer (a piecewise-linear log2), with an integer step of
  ``max(1, floor(2 * bound * 2**mantissa_bits))`` units; every element keeps a relative
  error <= ``bound`` and decoded values are clamped at +0, never negative (the Adam update
  divides by their square root).

``q`` is coded with the ``laplace-v1`` table family: one scale per block of ``BLOCK``
elements (from the block's mean |q|), the scale indexes themselves with an adaptive model.
"""

from __future__ import annotations

import numpy as np

from codec.errors import BitstreamError
from entropy import IndexedLaplace, SymbolDecoder, SymbolEncoder
from models.checkpoint.floats import FloatFormat, from_ordered, ordered
from models.checkpoint.lossless import ModelBank

BLOCK = 256
_LAPLACE = IndexedLaplace()
_SCALES = len(_LAPLACE.scales)


def value_step(square_sum: float, count: int, bound: float) -> float:
    """Quantization step of the value domain for a tensor with the given sum of squares
    and element count (0.0 if it is all zeros or empty)."""
    rms = float(np.sqrt(square_sum / count)) if count else 0.0
    return 2.0 * bound * rms


def quantize_values(x: np.ndarray, reference: np.ndarray, step: float):
    """(q int64, reconstruction float64) for (N,) float64 values and reference."""
    q = np.rint((x - reference) / step).astype(np.int64)
    return q, reconstruct_values(reference, q, step)


def reconstruct_values(reference: np.ndarray, q: np.ndarray, step: float) -> np.ndarray:
    return reference + q.astype(np.float64) * step


def relative_step(fmt: FloatFormat, bound: float) -> int:
    return max(1, int(2.0 * bound * (1 << fmt.mantissa_bits)))


def quantize_relative(bits: np.ndarray, base: np.ndarray, fmt: FloatFormat, step: int):
    """(q int64, reconstructed bit patterns uint64) for non-negative floats given as bits;
    ``base``: :func:`reference_base` of the reference."""
    q = np.floor_divide(ordered(bits, fmt.width) - base + step // 2, step)
    return q, reconstruct_relative(base, q, fmt, step)


def reconstruct_relative(base: np.ndarray, q: np.ndarray, fmt: FloatFormat, step: int):
    """Bit patterns (uint64) of ``base + q * step`` clamped to [+0, largest finite]."""
    largest = (1 << (fmt.width - 1)) - (1 << fmt.mantissa_bits) - 1
    return from_ordered(np.clip(base + q * step, 0, largest), fmt.width)


def reference_base(reference: np.ndarray | None, fmt: FloatFormat, count: int) -> np.ndarray:
    """Ordered integers of the reference bits (zeros without a reference)."""
    if reference is None:
        return np.zeros(count, dtype=np.int64)
    return ordered(reference, fmt.width)


def encode_symbols(encoder: SymbolEncoder, q: np.ndarray, bank: ModelBank) -> None:
    """q: (N,) int64 residual symbols."""
    n_blocks = -(-q.size // BLOCK)
    padded = np.zeros(n_blocks * BLOCK, dtype=np.float64)
    padded[: q.size] = np.abs(q)
    mean_abs = padded.reshape(n_blocks, BLOCK).mean(axis=1)
    # a Laplace law with mean |q| = b has std b * sqrt(2); clamp to the table's range
    index = _LAPLACE.scale_index(np.maximum(mean_abs * np.sqrt(2.0), 1e-3))
    bank.get(("scale",), 1, _SCALES).encode(encoder, index)
    _LAPLACE.encode(encoder, q, np.repeat(index, BLOCK)[: q.size])


def decode_symbols(decoder: SymbolDecoder, count: int, bank: ModelBank) -> np.ndarray:
    """Inverse of :func:`encode_symbols`: (count,) int64."""
    index = bank.get(("scale",), 1, _SCALES).decode(decoder, -(-count // BLOCK))
    q = _LAPLACE.decode(decoder, np.repeat(index, BLOCK)[:count])
    if q.size and np.abs(q).max() >= 1 << 40:
        raise BitstreamError("checkpoint tensor: residual out of range")
    return q

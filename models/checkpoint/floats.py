"""Float formats of checkpoint tensors and exact conversions between their bits and values.

Everything here is exact IEEE arithmetic (no transcendental functions), so encoder and
decoder agree bit for bit on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FloatFormat:
    """An IEEE-style binary float: total width and mantissa (fraction) bits."""

    name: str
    width: int
    mantissa_bits: int

    @property
    def head_bits(self) -> int:
        """Sign + exponent bits."""
        return self.width - self.mantissa_bits

    @property
    def uint(self) -> str:
        """numpy dtype of the bit patterns."""
        return f"<u{self.width // 8}"


FLOAT_FORMATS = {
    f.name: f
    for f in (
        FloatFormat("float32", 32, 23),
        FloatFormat("float16", 16, 10),
        FloatFormat("bfloat16", 16, 7),
    )
}


def ordered(bits: np.ndarray, width: int) -> np.ndarray:
    """Order-preserving signed integers (int64) of float bit patterns (-0 -> -1, +0 -> 0).

    For positive floats this is a piecewise-linear log2 scaled by 2**mantissa_bits.
    """
    bits = bits.astype(np.uint64)
    sign = (bits >> np.uint64(width - 1)).astype(bool)
    magnitude = (bits & np.uint64((1 << (width - 1)) - 1)).astype(np.int64)
    return np.where(sign, -magnitude - 1, magnitude)


def from_ordered(values: np.ndarray, width: int) -> np.ndarray:
    """Inverse of :func:`ordered` (uint64 bit patterns); values must lie in the width."""
    negative = values < 0
    magnitude = np.where(negative, -values - 1, values).astype(np.uint64)
    return magnitude | (negative.astype(np.uint64) << np.uint64(width - 1))


def float_values(data: np.ndarray, dtype: str) -> np.ndarray:
    """Raw little-endian bytes of a float tensor -> (N,) float64 (exact; NaNs stay NaN)."""
    if dtype == "bfloat16":
        values = (data.view("<u2").astype(np.uint32) << np.uint32(16)).view("<f4")
    else:
        values = data.view({"float32": "<f4", "float16": "<f2", "float64": "<f8"}[dtype])
    with np.errstate(invalid="ignore"):  # signalling NaNs
        return values.astype(np.float64)


def values_to_bytes(values: np.ndarray, dtype: str) -> np.ndarray:
    """(N,) float64 -> raw bytes of ``dtype``, rounding to nearest even (deterministic)."""
    if dtype == "bfloat16":
        bits = values.astype("<f4").view(np.uint32)
        rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> 16
        return rounded.astype("<u2").view(np.uint8)
    target = {"float32": "<f4", "float16": "<f2", "float64": "<f8"}[dtype]
    return values.astype(target).view(np.uint8)

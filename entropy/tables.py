"""Deterministic integer probability tables.

Every table is a row of positive integer frequencies summing to exactly ``2**precision``.
Turning floats into such rows is done by :func:`quantize_probabilities`, a function of its
float input only (element-wise IEEE operations and integer sums), so encoder and decoder get the
same integers whenever they see the same floats.

The Gaussian and Laplace table sets are built from a fixed scale table with scalar libm calls
(``math.erfc``, ``math.exp``) and then quantized; their SHA-256 digests are pinned in
``tests/conformance`` so a platform that built different integers would fail CI rather than
write undecodable files.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from codec.errors import InvalidParameterError

#: Default precision of integer tables (each row sums to 2**16).
DEFAULT_PRECISION = 16
#: constriction's probability precision; our rows must fit below it.
MAX_PRECISION = 24
_ROWS_PER_BLOCK = 1 << 14


def _check_table_size(n_symbols: int, precision: int) -> int:
    """2**precision after checking that ``n_symbols`` entries >= 1 fit such a row."""
    if not 1 <= precision <= MAX_PRECISION:
        raise InvalidParameterError(f"precision must be in 1..{MAX_PRECISION}, got {precision}")
    total = 1 << precision
    if n_symbols > total // 2:
        raise InvalidParameterError(
            f"{n_symbols} symbols do not fit a {precision}-bit table (at most {total // 2})"
        )
    return total


def shift_rows_below(rows: np.ndarray, bits: int) -> np.ndarray:
    """Right-shift each row of a non-negative (N, K) int64 array until its maximum is below
    2**bits (rows already below are unchanged). Integer-exact: the shift is the biased IEEE
    exponent of the row maximum (its bit length, or one more if the conversion to float64
    rounded up), so it is the same on every platform."""
    top = rows.max(axis=1).astype(np.float64)
    shift = (top.view(np.int64) >> 52) - (1022 + bits)
    np.maximum(shift, 0, out=shift)
    return rows >> shift[:, None]


def quantize_probabilities(
    probabilities: np.ndarray, precision: int = DEFAULT_PRECISION
) -> np.ndarray:
    """Integer frequencies for float probability rows.

    probabilities: (K,) or (N, K) non-negative finite floats (need not sum to 1), K >= 1.
    Returns int32 of the same shape; every entry >= 1 and every row sums to ``2**precision``.
    Row sums are accumulated column by column (the same order on every platform) and the
    rounding deficit of a row goes to its (first) largest entry. Rows are processed in blocks
    to bound temporary memory.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    squeeze = p.ndim == 1
    p = np.atleast_2d(p)
    if p.ndim != 2 or p.shape[1] < 1:
        raise InvalidParameterError(f"probabilities must be (K,) or (N, K), got {p.shape}")
    n_rows, n_symbols = p.shape
    total = _check_table_size(n_symbols, precision)
    out = np.empty(p.shape, dtype=np.int32)
    for start in range(0, n_rows, _ROWS_PER_BLOCK):
        block = p[start : start + _ROWS_PER_BLOCK]
        if not (np.isfinite(block).all() and (block >= 0).all()):
            raise InvalidParameterError("probabilities must be finite and >= 0 (found NaN/inf/<0)")
        norm = block[:, 0].copy()
        for column in range(1, n_symbols):
            norm += block[:, column]
        if not (norm > 0).all():
            raise InvalidParameterError("a probability row sums to zero")
        freq = out[start : start + _ROWS_PER_BLOCK]
        np.floor(block * ((total - n_symbols) / norm)[:, None], out=freq, casting="unsafe")
        freq += 1
        freq[np.arange(freq.shape[0]), np.argmax(block, axis=1)] += total - freq.sum(axis=1)
    return out[0] if squeeze else out


def quantize_counts(counts: np.ndarray, precision: int = DEFAULT_PRECISION) -> np.ndarray:
    """Integer frequencies for rows of non-negative integer weights, with integer arithmetic
    only (so the result cannot depend on floating-point details).

    counts: (N, K) integers in 0..2**62, each row with a positive entry. Each row is shifted
    right until its maximum is below 2**31, then entry c becomes
    ``c * (2**precision - K) // row_sum + 1``; the rounding deficit goes to the row's first
    largest entry. Returns (N, K) int32, entries >= 1, rows summing to ``2**precision``.
    """
    c = np.asarray(counts)
    if c.ndim != 2 or c.shape[1] < 1 or c.dtype.kind not in "iu":
        raise InvalidParameterError(f"counts must be (N, K) integers, got {c.dtype} {c.shape}")
    n_symbols = c.shape[1]
    total = _check_table_size(n_symbols, precision)
    c = c.astype(np.int64)
    if c.size and (c.min() < 0 or c.max() > 1 << 62):
        raise InvalidParameterError("counts must lie in 0..2**62")
    top = c.max(axis=1)
    if not (top > 0).all():
        raise InvalidParameterError("a count row is all zero")
    c = shift_rows_below(c, 31)
    freq = c * (total - n_symbols) // c.sum(axis=1, keepdims=True) + 1
    freq[np.arange(freq.shape[0]), np.argmax(c, axis=1)] += total - freq.sum(axis=1)
    return freq.astype(np.int32)


@dataclass(frozen=True, eq=False)
class TableSet:
    """A set of integer tables, each over a contiguous symbol range plus an escape entry.

    frequencies[k]: int64 (n_k + 1,), entries >= 1 summing to 2**precision. Entries 0..n_k-1
    belong to symbols offsets[k] .. offsets[k] + n_k - 1; entry n_k is the escape, used for
    every symbol outside that range (the value itself then follows, see ``families``).
    """

    frequencies: tuple[np.ndarray, ...]
    offsets: np.ndarray
    precision: int
    name: str = "custom"

    def __post_init__(self) -> None:
        offsets = np.asarray(self.offsets, dtype=np.int64)
        object.__setattr__(self, "offsets", offsets)
        if offsets.shape != (len(self.frequencies),):
            raise InvalidParameterError("need one offset per table")
        total = 1 << self.precision
        for k, row in enumerate(self.frequencies):
            if row.ndim != 1 or row.size < 2 or row.min() < 1 or int(row.sum()) != total:
                raise InvalidParameterError(
                    f"table {k}: needs >= 2 entries, all >= 1, summing to 2**{self.precision}"
                )

    def __len__(self) -> int:
        return len(self.frequencies)

    @cached_property
    def sizes(self) -> np.ndarray:
        """(n_tables,) number of in-range symbols of each table (escape excluded)."""
        return np.array([row.size - 1 for row in self.frequencies], dtype=np.int64)

    def digest(self) -> str:
        """SHA-256 over precision, offsets and frequencies (little-endian int64)."""
        h = hashlib.sha256(f"{self.precision}:".encode())
        h.update(self.offsets.astype("<i8").tobytes())
        for row in self.frequencies:
            h.update(len(row).to_bytes(4, "little"))
            h.update(row.astype("<i8").tobytes())
        return h.hexdigest()

    @classmethod
    def from_probabilities(
        cls,
        pmfs: list[np.ndarray],
        offsets: np.ndarray,
        tail_masses: np.ndarray,
        precision: int = DEFAULT_PRECISION,
        name: str = "custom",
    ) -> TableSet:
        """Quantize float pmfs (e.g. per-channel factorized priors) into a table set.

        pmfs[k]: (n_k,) probabilities of symbols offsets[k] .. offsets[k]+n_k-1;
        tail_masses[k]: probability of everything outside that range (the escape entry).
        """
        rows = tuple(
            quantize_probabilities(np.append(np.asarray(pmf, np.float64), tail), precision)
            for pmf, tail in zip(pmfs, np.asarray(tail_masses, np.float64), strict=True)
        )
        return cls(rows, np.asarray(offsets, dtype=np.int64), precision, name)


def log_scale_table(low: float, high: float, levels: int) -> np.ndarray:
    """(levels,) float64 scales spaced evenly in log domain from ``low`` to ``high``."""
    if not (0 < low < high and levels >= 2):
        raise InvalidParameterError(f"bad scale table: low={low}, high={high}, levels={levels}")
    step = (math.log(high) - math.log(low)) / (levels - 1)
    return np.array([math.exp(math.log(low) + i * step) for i in range(levels)])


def _symmetric_table(
    upper_tail: Callable[[float, float], float], scale: float, tail_mass: float, precision: int
) -> tuple[np.ndarray, int]:
    """Quantized pmf over -R..R plus escape for a symmetric law with survival ``upper_tail``.

    upper_tail(x, scale) = P(X > x). R is the smallest radius with 2 P(X > R + 1/2) <= tail_mass.
    """
    radius = 1
    while 2 * upper_tail(radius + 0.5, scale) > tail_mass:
        radius += 1
    # P(|X| rounds to k) for k >= 1, from survival differences (accurate in the tails).
    edges = [upper_tail(k + 0.5, scale) for k in range(radius + 1)]
    centre = 1.0 - 2.0 * edges[0]
    side = [edges[k - 1] - edges[k] for k in range(1, radius + 1)]
    pmf = side[::-1] + [centre] + side + [2.0 * edges[radius]]
    return quantize_probabilities(np.array(pmf), precision), -radius


def _gaussian_upper_tail(x: float, scale: float) -> float:
    return 0.5 * math.erfc(x / (scale * math.sqrt(2.0)))


def _laplace_upper_tail(x: float, scale: float) -> float:
    # scale is the standard deviation; the Laplace diversity b = std / sqrt(2).
    return 0.5 * math.exp(-x * math.sqrt(2.0) / scale)


def _symmetric_table_set(
    upper_tail: Callable[[float, float], float],
    scales: np.ndarray,
    tail_mass: float,
    precision: int,
    name: str,
) -> TableSet:
    scales = np.asarray(scales, dtype=np.float64)
    if scales.ndim != 1 or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise InvalidParameterError("scales must be a 1-D array of finite values > 0")
    rows, offsets = [], []
    for scale in scales:
        row, offset = _symmetric_table(upper_tail, float(scale), tail_mass, precision)
        rows.append(row)
        offsets.append(offset)
    return TableSet(tuple(rows), np.array(offsets), precision, name)


def gaussian_table_set(
    scales: np.ndarray, tail_mass: float = 2.0**-20, precision: int = DEFAULT_PRECISION
) -> TableSet:
    """Zero-mean quantized Gaussians, one table per standard deviation in ``scales``."""
    return _symmetric_table_set(_gaussian_upper_tail, scales, tail_mass, precision, "gaussian")


def laplace_table_set(
    scales: np.ndarray, tail_mass: float = 2.0**-20, precision: int = DEFAULT_PRECISION
) -> TableSet:
    """Zero-mean quantized Laplace laws, one table per standard deviation in ``scales``."""
    return _symmetric_table_set(_laplace_upper_tail, scales, tail_mass, precision, "laplace")

"""Vectorised packing of unsigned integers with per-element bit widths (raw, uncoded bits).

Mantissa bits below what a model can predict are close to uniform; they are stored as plain
bits. Elements are grouped by width (0..32, stable order); each group of width
``w = 8q + r`` is written as q little-endian bytes of ``value >> r`` per element, then the
low r bits of every 8 consecutive elements as r bytes (the 8 fields concatenated, first
element in the most significant bits; the last group of 8 is zero-padded). The decoder knows
every element's width before it unpacks, so no lengths are stored.
"""

from __future__ import annotations

import numpy as np

from codec.errors import BitstreamError

MAX_WIDTH = 32


def _group_bytes(width: int, count: int) -> int:
    q, r = divmod(width, 8)
    return q * count + r * (-(-count // 8))


def packed_size(widths: np.ndarray) -> int:
    """Bytes that :func:`pack` writes for these widths."""
    counts = np.bincount(widths, minlength=MAX_WIDTH + 1)
    return sum(_group_bytes(int(w), int(n)) for w, n in enumerate(counts) if n)


def _groups(widths: np.ndarray):
    """(width, element indexes or a slice) per non-empty width group, in width order."""
    counts = np.bincount(widths, minlength=MAX_WIDTH + 1)
    present = np.flatnonzero(counts)
    if present.size == 1:
        yield int(present[0]), slice(None)
        return
    order = np.argsort(widths, kind="stable")
    start = 0
    for width in present:
        end = start + int(counts[width])
        yield int(width), order[start:end]
        start = end


def pack(values: np.ndarray, widths: np.ndarray) -> bytes:
    """values: (N,) unsigned ints with values < 2**widths; widths: (N,) uint8 in 0..32."""
    values = np.asarray(values).astype(np.uint32, copy=False)
    widths = np.asarray(widths, dtype=np.uint8)
    return b"".join(_pack_fixed(values[index], width) for width, index in _groups(widths))


def unpack(data: bytes | memoryview, widths: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack`: (N,) uint32; BitstreamError if ``data`` has the wrong size."""
    widths = np.asarray(widths, dtype=np.uint8)
    if packed_size(widths) != len(data):
        raise BitstreamError(f"packed bits: expected {packed_size(widths)} bytes, got {len(data)}")
    buffer = np.frombuffer(data, dtype=np.uint8)
    out = np.empty(widths.size, dtype=np.uint32)
    offset = 0
    for width, index in _groups(widths):
        count = widths.size if isinstance(index, slice) else index.size
        size = _group_bytes(width, count)
        out[index] = _unpack_fixed(buffer[offset : offset + size], width, count)
        offset += size
    return out


def _pack_fixed(values: np.ndarray, width: int) -> bytes:
    q, r = divmod(width, 8)
    parts = []
    if q:
        high = (values >> np.uint32(r)).astype("<u4").view(np.uint8).reshape(-1, 4)
        parts.append(high[:, :q].tobytes())
    if r:
        low = np.zeros(-(-values.size // 8) * 8, dtype=np.uint64)
        low[: values.size] = values & np.uint32((1 << r) - 1)
        low = low.reshape(-1, 8)
        word = np.zeros(low.shape[0], dtype=np.uint64)
        for j in range(8):
            word |= low[:, j] << np.uint64(r * (7 - j))
        parts.append(word.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - r :].tobytes())
    return b"".join(parts)


def _unpack_fixed(buffer: np.ndarray, width: int, count: int) -> np.ndarray:
    q, r = divmod(width, 8)
    out = np.zeros(count, dtype=np.uint32)
    if q:
        high = np.zeros((count, 4), dtype=np.uint8)
        high[:, :q] = buffer[: q * count].reshape(count, q)
        out = high.view("<u4").reshape(-1) << np.uint32(r)
    if r:
        groups = -(-count // 8)
        padded = np.zeros((groups, 8), dtype=np.uint8)
        padded[:, 8 - r :] = buffer[q * count :].reshape(groups, r)
        word = padded.view(">u8").reshape(-1, 1)
        shifts = np.uint64(r) * np.arange(7, -1, -1, dtype=np.uint64)
        low = (word >> shifts) & np.uint64((1 << r) - 1)
        out |= low.reshape(-1)[:count].astype(np.uint32)
    return out

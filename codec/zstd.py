"""Bounded zstd decompression: a forged frame header cannot make a decoder allocate more
than the caller expects."""

from __future__ import annotations

import io

import zstandard

from codec.errors import BitstreamError

_PIECE = 1 << 20


def decompress_at_most(payload: bytes | memoryview, limit: int, what: str) -> bytes:
    """The frame's content, reading at most ``limit + 1`` bytes (in 1 MiB pieces), so a
    result longer than ``limit`` means the frame is too big. Corrupt frames raise
    BitstreamError naming ``what``."""
    parts, size = [], 0
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(payload)) as reader:
            while size <= limit and (part := reader.read(min(_PIECE, limit + 1 - size))):
                parts.append(part)
                size += len(part)
    except zstandard.ZstdError as exc:
        raise BitstreamError(f"{what}: corrupt zstd frame ({exc})") from None
    return b"".join(parts)

"""Guess the media kind of an input file from its first bytes, then from its name."""

from __future__ import annotations

from pathlib import Path

from codec.container import COMPACT_MAGIC, MAGIC
from codec.errors import InputError
from codec.registry import KINDS

# (offset, signature, kind): checked in order against the first 64 bytes.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image"),
    (0, b"\xff\xd8\xff", "image"),
    (0, b"GIF8", "image"),
    (0, b"BM", "image"),
    (0, b"II*\x00", "image"),
    (0, b"MM\x00*", "image"),
    (0, b"YUV4MPEG2", "video"),
    (0, b"\x1a\x45\xdf\xa3", "video"),  # Matroska / WebM
    (4, b"ftyp", "video"),  # MP4 / MOV (m4a is caught by its extension first)
    (0, b"fLaC", "audio"),
    (0, b"OggS", "audio"),
    (0, b"ID3", "audio"),
    (0, b"\x93NUMPY", "lossless"),
    (0, b"\x00\x00\x08\x03", "lossless"),  # MNIST idx3 (uint8, 3 dims)
)


def _riff_kind(head: bytes) -> str | None:
    if head[:4] == b"RIFF":
        return {b"WAVE": "audio", b"WEBP": "image", b"AVI ": "video"}.get(head[8:12])
    return None


def detect_kind(path: Path) -> str:
    """Kind of the file at ``path``: "raw" when nothing more specific is recognised."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise InputError(f"cannot read input {path}: {exc.strerror or exc}") from None
    if head.startswith((MAGIC, COMPACT_MAGIC)):
        raise InputError(f"{path} is already a codec file: use 'codec decode' or 'codec info'")
    name = path.name.lower()
    for spec in KINDS.values():
        if any(name.endswith(ext) for ext in spec.extensions):
            return spec.name
    riff = _riff_kind(head)
    if riff:
        return riff
    for offset, signature, kind in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return kind
    return "raw"

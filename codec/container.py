"""The container: a versioned, checksummed sequence of chunks with a self-describing header.

The byte layout is specified in docs/FORMAT.md; this module is its reference implementation.
It imports only the standard library so that ``codec info`` stays fast.

Layout (all integers little-endian)::

    prelude   magic "NCDC" | version u8 | kind u8 | flags u16 | header_length u32
    header    header_length bytes: codec id, weights id, metadata map, chunk table
    crc       u32 CRC-32 of prelude + header
    payload   the chunks, back to back, in table order

Compact form, for files of at most 64 KiB whose header is one of the fixed
:data:`COMPACT_PROFILES` but for the values of the profile's integer keys (a single 28x28
digit is ~130 bytes of payload, a small image a few hundred; the full header would add
~70 and ~125)::

    magic "NCc" | profile u8 | uvarint per integer key | uvarint length per chunk but the
    last | the chunks | u32 CRC-32 of everything before it

The reader validates every count and length against :data:`LIMITS` and against the bytes that
actually remain in the file *before* it allocates anything, and raises
:class:`~codec.errors.BitstreamError` (or a subclass) naming what is wrong and where.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from codec.errors import BitstreamError, UnsupportedVersionError

MAGIC = b"NCDC"
FORMAT_VERSION = 1
PRELUDE = struct.Struct("<4sBBHI")

#: Kind names and the code stored in the prelude. Codes are part of the format: never reuse one.
KIND_CODES: dict[str, int] = {
    "raw": 1,
    "image": 2,
    "video": 3,
    "audio": 4,
    "lossless": 5,
    "checkpoint": 6,
}
KIND_NAMES = {code: name for name, code in KIND_CODES.items()}


@dataclass(frozen=True)
class Limits:
    """Hard limits checked by the reader before any allocation."""

    header_bytes: int = 1 << 20
    id_chars: int = 256
    metadata_entries: int = 1024
    key_chars: int = 64
    value_bytes: int = 1 << 16
    list_items: int = 1 << 16
    chunks: int = 1 << 20
    chunk_bytes: int = 1 << 34


LIMITS = Limits()

MetaValue = int | float | str | bytes | tuple[int, ...] | tuple[float, ...]

_KEY_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
_T_INT, _T_FLOAT, _T_STR, _T_BYTES, _T_INTS, _T_FLOATS = 1, 2, 3, 4, 5, 6
_CRC = struct.Struct("<I")
_F64 = struct.Struct("<d")


@dataclass(frozen=True)
class CompactProfile:
    """A header the compact form stands for (see the module docstring and docs/FORMAT.md):
    kind, codec id, weights id and fixed metadata items (sorted by key); ``int_keys``: more
    metadata keys whose values (ints in [0, 2^63)) the file carries, in this order;
    ``chunks``: the number of chunks (the file carries the lengths of all but the last)."""

    kind: str
    codec_id: str
    weights_id: str
    metadata: tuple[tuple[str, MetaValue], ...]
    int_keys: tuple[str, ...] = ()
    chunks: int = 1


def _image_profile(weights_id: str) -> CompactProfile:
    """The compact profile of ``image-v1`` files of one weights version (six chunks: the
    hyper-latent and five channel groups)."""
    return CompactProfile(
        "image", "image-v1", weights_id, (), ("height", "width", "channels", "quality"), chunks=6
    )


COMPACT_MAGIC = b"NCc"
#: Compact profile codes. Part of the format: a code is never reused or changed; new weights
#: get a new code.
COMPACT_PROFILES: dict[int, CompactProfile] = {
    1: CompactProfile(
        "lossless",
        "lossless-v1",
        "mnist-pc-v1@f83b7e332934",
        (("layout", "gray"), ("model", "mnist"), ("shape", (28, 28))),
    ),
    2: _image_profile("image-v1@9b3963f0cd5a"),
    3: _image_profile("image-v1@440614de5af8"),
    4: _image_profile("image-v1@2521fa1dafb7"),
    5: _image_profile("image-v1@dd9900b3e943"),
    6: _image_profile("image-v1@272a10812043"),
    7: _image_profile("image-v1@bfd265c9187c"),
    8: _image_profile("image-v1@ca64141f4250"),
    9: _image_profile("image-v1@13a477e114da"),
}
COMPACT_MAX_BYTES = 1 << 16


def compact_fit(
    kind: str, codec_id: str, weights_id: str, metadata: Mapping[str, MetaValue], chunks: int
) -> tuple[int, tuple[int, ...]] | None:
    """(code, values of its integer keys) of the compact profile this header fits, if any."""
    for code, profile in COMPACT_PROFILES.items():
        if (kind, codec_id, weights_id, chunks) != (
            profile.kind,
            profile.codec_id,
            profile.weights_id,
            profile.chunks,
        ):
            continue
        values = tuple(metadata.get(key) for key in profile.int_keys)
        fixed = tuple(sorted((k, v) for k, v in metadata.items() if k not in profile.int_keys))
        if fixed == profile.metadata and all(type(v) is int and 0 <= v < 1 << 63 for v in values):
            return code, values
    return None


@dataclass(frozen=True)
class ChunkEntry:
    """One row of the chunk table; ``offset`` is absolute from the start of the file."""

    offset: int
    length: int
    crc32: int


@dataclass(frozen=True)
class ContainerHeader:
    """Everything before the payload: identity of the codec, media metadata, chunk table."""

    kind: str
    codec_id: str
    weights_id: str = ""
    metadata: Mapping[str, MetaValue] = field(default_factory=dict)
    chunks: tuple[ChunkEntry, ...] = ()
    version: int = FORMAT_VERSION
    # size of prelude + header + crc, i.e. offset of the first chunk (compact form: its 8 bytes
    # of magic, profile and crc, so that total_size is still the file size)
    payload_offset: int = 0

    @property
    def total_size(self) -> int:
        """Size in bytes of the whole file this header describes."""
        return self.payload_offset + sum(entry.length for entry in self.chunks)


# --------------------------------------------------------------------------- primitives


def _put_uvarint(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError(f"uvarint must be >= 0, got {value}")
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _put_svarint(out: bytearray, value: int) -> None:
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f"integer metadata value {value} does not fit in 64 bits")
    _put_uvarint(out, (value << 1) ^ (value >> 63) if value < 0 else value << 1)


def _put_bytes(out: bytearray, data: bytes) -> None:
    _put_uvarint(out, len(data))
    out += data


class _Cursor:
    """Bounds-checked reader over the header bytes; every failure names the offset."""

    def __init__(self, data: bytes, base: int) -> None:
        self.data = data
        self.pos = 0
        self.base = base

    def fail(self, what: str) -> BitstreamError:
        return BitstreamError(f"{what} (header byte offset {self.base + self.pos})")

    def take(self, n: int, what: str) -> bytes:
        if n > len(self.data) - self.pos:
            raise self.fail(f"{what}: needs {n} bytes, only {len(self.data) - self.pos} left")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def uvarint(self, what: str, limit: int) -> int:
        value = 0
        for shift in range(0, 70, 7):
            byte = self.u8(what)
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if value > limit:
                    raise self.fail(f"{what} = {value} exceeds the limit {limit}")
                return value
        raise self.fail(f"{what}: varint longer than 10 bytes")

    def svarint(self, what: str) -> int:
        raw = self.uvarint(what, (1 << 64) - 1)
        return (raw >> 1) ^ -(raw & 1)

    def text(self, what: str, limit: int) -> str:
        n = self.uvarint(f"{what} length", limit)
        try:
            return self.take(n, what).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(f"{what} is not valid UTF-8") from exc


# --------------------------------------------------------------------------- writing


def _check_id(name: str, value: str) -> bytes:
    encoded = value.encode("utf-8")
    if len(encoded) > LIMITS.id_chars:
        raise ValueError(f"{name} longer than {LIMITS.id_chars} bytes: {value!r}")
    return encoded


def _serialize_metadata(out: bytearray, metadata: Mapping[str, MetaValue]) -> None:
    if len(metadata) > LIMITS.metadata_entries:
        raise ValueError(f"more than {LIMITS.metadata_entries} metadata entries")
    _put_uvarint(out, len(metadata))
    for key, value in metadata.items():
        if not _KEY_RE.match(key) or len(key) > LIMITS.key_chars:
            raise ValueError(f"metadata key {key!r} must match [a-z][a-z0-9_]* (<= 64 chars)")
        _put_bytes(out, key.encode("ascii"))
        if isinstance(value, int):
            out.append(_T_INT)
            _put_svarint(out, int(value))
        elif isinstance(value, float):
            out.append(_T_FLOAT)
            out += _F64.pack(value)
        elif isinstance(value, (str, bytes, bytearray)):
            raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            if len(raw) > LIMITS.value_bytes:
                raise ValueError(f"metadata {key!r} longer than {LIMITS.value_bytes} bytes")
            out.append(_T_STR if isinstance(value, str) else _T_BYTES)
            _put_bytes(out, raw)
        elif isinstance(value, (tuple, list)):
            if len(value) > LIMITS.list_items:
                raise ValueError(f"metadata list {key!r} longer than {LIMITS.list_items}")
            if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                out.append(_T_INTS)
                _put_uvarint(out, len(value))
                for v in value:
                    _put_svarint(out, v)
            elif all(isinstance(v, float) for v in value):
                out.append(_T_FLOATS)
                _put_uvarint(out, len(value))
                out += struct.pack(f"<{len(value)}d", *value)
            else:
                raise ValueError(f"metadata list {key!r} must hold only ints or only floats")
        else:
            raise ValueError(f"metadata {key!r}: unsupported type {type(value).__name__}")


def _serialize_header(
    codec_id: str,
    weights_id: str,
    metadata: Mapping[str, MetaValue],
    chunks: list[tuple[int, int]],
    kind: str,
) -> bytes:
    """Prelude + header (without the trailing CRC) for ``chunks`` = [(length, crc32), ...]."""
    body = bytearray()
    _put_bytes(body, _check_id("codec id", codec_id))
    _put_bytes(body, _check_id("weights id", weights_id))
    _serialize_metadata(body, metadata)
    _put_uvarint(body, len(chunks))
    for length, crc in chunks:
        _put_uvarint(body, length)
        body += _CRC.pack(crc)
    if len(body) > LIMITS.header_bytes:
        raise ValueError(f"header of {len(body)} bytes exceeds {LIMITS.header_bytes}")
    if kind not in KIND_CODES:
        raise ValueError(f"unknown kind {kind!r}; known: {sorted(KIND_CODES)}")
    return PRELUDE.pack(MAGIC, FORMAT_VERSION, KIND_CODES[kind], 0, len(body)) + bytes(body)


def write_container(
    out: BinaryIO,
    kind: str,
    codec_id: str,
    chunks: Iterable[bytes],
    metadata: Mapping[str, MetaValue],
    weights_id: str = "",
    spool: BinaryIO | None = None,
    compact: bool = True,
) -> int:
    """Write a complete container to ``out`` and return the number of bytes written.

    ``chunks`` may be a generator: each chunk is appended to ``spool`` (a temporary file, or
    memory when ``None``) as it is produced, so memory holds one chunk at a time. ``metadata``
    is read after the last chunk, so a codec may finish filling it while it streams. A
    file of at most COMPACT_MAX_BYTES whose header fits a compact profile is written in
    compact form unless ``compact`` is False (the full form keeps a CRC per chunk).
    """
    spool = spool if spool is not None else io.BytesIO()
    table: list[tuple[int, int]] = []
    for chunk in chunks:
        if len(table) >= LIMITS.chunks:
            raise ValueError(f"more than {LIMITS.chunks} chunks")
        if len(chunk) > LIMITS.chunk_bytes:
            raise ValueError(f"chunk of {len(chunk)} bytes exceeds {LIMITS.chunk_bytes}")
        table.append((len(chunk), zlib.crc32(chunk)))
        spool.write(chunk)
    fit = compact_fit(kind, codec_id, weights_id, metadata, len(table)) if compact else None
    if fit is not None:
        prefix = bytearray(COMPACT_MAGIC + bytes([fit[0]]))
        for value in fit[1]:
            _put_uvarint(prefix, value)
        for length, _ in table[:-1]:
            _put_uvarint(prefix, length)
        size = len(prefix) + sum(length for length, _ in table) + 4
        if size <= COMPACT_MAX_BYTES:
            spool.seek(0)
            body = bytes(prefix) + spool.read()
            out.write(body + _CRC.pack(zlib.crc32(body)))
            return size
    head = _serialize_header(codec_id, weights_id, metadata, table, kind)
    out.write(head)
    out.write(_CRC.pack(zlib.crc32(head)))
    spool.seek(0)
    shutil.copyfileobj(spool, out, 1 << 20)
    return len(head) + 4 + sum(length for length, _ in table)


def container_bytes(
    kind: str,
    codec_id: str,
    chunks: Iterable[bytes],
    metadata: Mapping[str, MetaValue],
    weights_id: str = "",
    compact: bool = True,
) -> bytes:
    """In-memory form of :func:`write_container`."""
    buffer = io.BytesIO()
    write_container(buffer, kind, codec_id, chunks, metadata, weights_id, compact=compact)
    return buffer.getvalue()


# --------------------------------------------------------------------------- reading


def _parse_metadata(cur: _Cursor) -> dict[str, MetaValue]:
    count = cur.uvarint("metadata entry count", LIMITS.metadata_entries)
    metadata: dict[str, MetaValue] = {}
    for _ in range(count):
        key = cur.text("metadata key", LIMITS.key_chars)
        if not _KEY_RE.match(key):
            raise cur.fail(f"invalid metadata key {key!r}")
        if key in metadata:
            raise cur.fail(f"duplicate metadata key {key!r}")
        tag = cur.u8(f"type of metadata {key!r}")
        value: MetaValue
        if tag == _T_INT:
            value = cur.svarint(f"metadata {key!r}")
        elif tag == _T_FLOAT:
            value = _F64.unpack(cur.take(8, f"metadata {key!r}"))[0]
        elif tag == _T_STR:
            value = cur.text(f"metadata {key!r}", LIMITS.value_bytes)
        elif tag == _T_BYTES:
            n = cur.uvarint(f"metadata {key!r} length", LIMITS.value_bytes)
            value = cur.take(n, f"metadata {key!r}")
        elif tag == _T_INTS:
            n = cur.uvarint(f"metadata {key!r} length", LIMITS.list_items)
            value = tuple(cur.svarint(f"metadata {key!r}[{i}]") for i in range(n))
        elif tag == _T_FLOATS:
            n = cur.uvarint(f"metadata {key!r} length", LIMITS.list_items)
            value = struct.unpack(f"<{n}d", cur.take(8 * n, f"metadata {key!r}"))
        else:
            raise cur.fail(f"metadata {key!r} has unknown type tag {tag}")
        metadata[key] = value
    return metadata


def parse_header(head: bytes, file_size: int | None) -> ContainerHeader:
    """Parse prelude + header + crc from ``head`` (which may be longer than needed).

    ``file_size``, when known, must equal the size implied by the chunk table.
    """
    if len(head) < PRELUDE.size:
        raise BitstreamError(f"file too short for a codec header ({len(head)} bytes)")
    magic, version, kind_code, flags, header_len = PRELUDE.unpack_from(head)
    if magic != MAGIC:
        raise BitstreamError(f"not a codec file: magic {magic!r} at offset 0, expected {MAGIC!r}")
    if version != FORMAT_VERSION:
        raise UnsupportedVersionError(
            f"unsupported format version {version} (this build reads version {FORMAT_VERSION};"
            " a newer release of the package may read it)"
        )
    if kind_code not in KIND_NAMES:
        raise BitstreamError(f"unknown kind code {kind_code} at offset 5")
    if flags:
        raise BitstreamError(f"reserved flags 0x{flags:04x} set at offset 6")
    if header_len > LIMITS.header_bytes:
        raise BitstreamError(f"header length {header_len} at offset 8 exceeds the limit")
    end = PRELUDE.size + header_len
    if len(head) < end + 4:
        raise BitstreamError(f"truncated header: needs {end + 4} bytes, file has {len(head)}")
    (stored_crc,) = _CRC.unpack_from(head, end)
    if zlib.crc32(head[:end]) != stored_crc:
        raise BitstreamError(f"header CRC mismatch (header bytes 0..{end}, crc at offset {end})")
    cur = _Cursor(head[PRELUDE.size : end], PRELUDE.size)
    codec_id = cur.text("codec id", LIMITS.id_chars)
    weights_id = cur.text("weights id", LIMITS.id_chars)
    metadata = _parse_metadata(cur)
    n_chunks = cur.uvarint("chunk count", LIMITS.chunks)
    offset = end + 4
    entries = []
    for i in range(n_chunks):
        length = cur.uvarint(f"length of chunk {i}", LIMITS.chunk_bytes)
        (crc,) = _CRC.unpack(cur.take(4, f"crc of chunk {i}"))
        entries.append(ChunkEntry(offset, length, crc))
        offset += length
    if cur.pos != len(cur.data):
        raise cur.fail(f"{len(cur.data) - cur.pos} unexpected bytes at the end of the header")
    if file_size is not None and offset != file_size:
        problem = "truncated" if offset > file_size else "trailing data after the last chunk"
        raise BitstreamError(
            f"{problem}: chunk table says {offset} bytes, file has {file_size} bytes"
        )
    return ContainerHeader(
        kind=KIND_NAMES[kind_code],
        codec_id=codec_id,
        weights_id=weights_id,
        metadata=metadata,
        chunks=tuple(entries),
        version=version,
        payload_offset=end + 4,
    )


def parse_compact(data: bytes) -> ContainerHeader:
    """Header of a whole compact-form file ``data`` (its CRC checked)."""
    if len(data) > COMPACT_MAX_BYTES:
        raise BitstreamError(f"compact file of {len(data)} bytes exceeds {COMPACT_MAX_BYTES}")
    if len(data) < 8:
        raise BitstreamError(f"compact file too short ({len(data)} bytes)")
    (stored_crc,) = _CRC.unpack_from(data, len(data) - 4)
    if zlib.crc32(data[:-4]) != stored_crc:
        raise BitstreamError(f"compact file CRC mismatch (crc at offset {len(data) - 4})")
    profile = COMPACT_PROFILES.get(data[3])
    if profile is None:
        raise UnsupportedVersionError(
            f"unknown compact profile {data[3]} at offset 3 (a newer release may read it)"
        )
    cur = _Cursor(data[:-4], 0)
    cur.pos = 4
    metadata = dict(profile.metadata)
    for key in profile.int_keys:
        metadata[key] = cur.uvarint(f"compact {key}", (1 << 63) - 1)
    lengths = [
        cur.uvarint(f"compact chunk {index} length", len(data) - 4 - cur.pos)
        for index in range(profile.chunks - 1)
    ]
    last = len(data) - 4 - cur.pos - sum(lengths)
    if last < 0:
        raise BitstreamError(f"compact chunk lengths run {-last} bytes past the payload")
    entries, offset = [], cur.pos
    for length in [*lengths, last]:
        entries.append(ChunkEntry(offset, length, zlib.crc32(data[offset : offset + length])))
        offset += length
    return ContainerHeader(
        kind=profile.kind,
        codec_id=profile.codec_id,
        weights_id=profile.weights_id,
        metadata=metadata,
        chunks=tuple(entries),
        payload_offset=len(data) - sum(entry.length for entry in entries),
    )


class ContainerReader:
    """Random access to the chunks of a container held in a seekable binary file or bytes.

    The header is parsed and validated on construction; each chunk's CRC is verified when the
    chunk is read. Compact-form files are recognised by their magic. With ``salvage`` the
    file may be shorter than its chunk table says, and :meth:`iter_chunks` ends at the first
    truncated or damaged chunk instead of raising, saying why in :attr:`damaged`.
    """

    def __init__(self, source: BinaryIO | bytes, salvage: bool = False) -> None:
        self._file: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
        self.salvage, self.damaged = salvage, ""
        size = self._file.seek(0, os.SEEK_END)
        self._file.seek(0)
        if self._file.read(len(COMPACT_MAGIC)) == COMPACT_MAGIC:
            self._file.seek(0)
            self.header = parse_compact(self._file.read(COMPACT_MAX_BYTES + 1))
            return
        self._file.seek(0)
        prelude = self._file.read(PRELUDE.size)
        header_len = PRELUDE.unpack(prelude)[4] if len(prelude) == PRELUDE.size else 0
        want = PRELUDE.size + min(header_len, LIMITS.header_bytes) + 4
        head = prelude + self._file.read(want - len(prelude))
        self.header = parse_header(head, None if salvage else size)

    def read_chunk(self, index: int) -> bytes:
        """Bytes of chunk ``index`` (0-based), CRC-checked."""
        if not 0 <= index < len(self.header.chunks):
            raise IndexError(f"chunk {index} out of range (file has {len(self.header.chunks)})")
        entry = self.header.chunks[index]
        self._file.seek(entry.offset)
        data = self._file.read(entry.length)
        if len(data) != entry.length:
            raise BitstreamError(f"chunk {index} at offset {entry.offset}: truncated")
        if zlib.crc32(data) != entry.crc32:
            raise BitstreamError(
                f"chunk {index} at offset {entry.offset} ({entry.length} bytes): CRC mismatch"
            )
        return data

    def iter_chunks(self) -> Iterator[bytes]:
        """All chunks in order, each CRC-checked as it is read."""
        for index in range(len(self.header.chunks)):
            try:
                chunk = self.read_chunk(index)
            except BitstreamError as exc:
                if not self.salvage:
                    raise
                self.damaged = f"chunks {index}..{len(self.header.chunks) - 1} lost ({exc})"
                return
            yield chunk


def read_header(path: str | os.PathLike[str]) -> ContainerHeader:
    """Parse and validate the header of the container at ``path`` (reads only the header)."""
    with open(path, "rb") as f:
        return ContainerReader(f).header

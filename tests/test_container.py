"""The container format: round trips, every validation rule, clear errors."""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from codec.container import (
    LIMITS,
    PRELUDE,
    ContainerReader,
    container_bytes,
    parse_header,
    write_container,
)
from codec.errors import BitstreamError, UnsupportedVersionError

METADATA = {
    "width": 768,
    "negative": -(2**62),
    "fps": 29.97,
    "name": "kodim01 ✓",
    "blob": b"\x00\xff",
    "shape": (3, 512, 768),
    "scales": (0.5, 1.25),
    "empty": (),
}


def sample(chunks=(b"first", b"", b"third chunk")) -> bytes:
    return container_bytes("image", "elic-v1", list(chunks), METADATA, "elic@0123abcd")


def fix_header_crc(data: bytearray) -> bytearray:
    end = PRELUDE.size + struct.unpack_from("<I", data, 8)[0]
    struct.pack_into("<I", data, end, zlib.crc32(bytes(data[:end])))
    return data


def test_roundtrip_every_field():
    reader = ContainerReader(sample())
    h = reader.header
    assert (h.kind, h.codec_id, h.weights_id, h.version) == ("image", "elic-v1", "elic@0123abcd", 1)
    assert h.metadata == METADATA
    assert [reader.read_chunk(i) for i in range(3)] == [b"first", b"", b"third chunk"]
    assert h.chunks[1].offset == h.chunks[0].offset + 5 and h.total_size == len(sample())


def test_streaming_writer_reads_metadata_after_chunks():
    metadata = {"count": 0}

    def chunks():
        for i in range(3):
            metadata["count"] = i + 1
            yield bytes([i]) * i

    out = io.BytesIO()
    size = write_container(out, "raw", "raw-v1", chunks(), metadata)
    assert size == len(out.getvalue())
    assert ContainerReader(out.getvalue()).header.metadata == {"count": 3}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d[:3], "too short"),
        (lambda d: b"PK\x03\x04" + d[4:], "not a codec file"),
        (lambda d: d[:-1], "truncated"),
        (lambda d: d + b"x", "trailing data"),
        (lambda d: d[:20], "truncated header"),
    ],
)
def test_foreign_truncated_or_padded_files_are_rejected(mutate, message):
    with pytest.raises(BitstreamError, match=message):
        ContainerReader(mutate(sample()))


def test_newer_version_is_unsupported_not_corrupt():
    data = bytearray(sample())
    data[4] = 2
    with pytest.raises(UnsupportedVersionError, match="unsupported format version 2"):
        ContainerReader(bytes(data))


@pytest.mark.parametrize(
    "offset, value, message",
    [(5, 99, "unknown kind code 99"), (6, 1, "reserved flags")],
)
def test_prelude_fields_are_validated(offset, value, message):
    data = bytearray(sample())
    data[offset] = value
    with pytest.raises(BitstreamError, match=message):
        ContainerReader(bytes(data))


def test_header_and_chunk_crcs_are_checked():
    data = bytearray(sample())
    data[PRELUDE.size + 2] ^= 1
    with pytest.raises(BitstreamError, match="header CRC mismatch"):
        ContainerReader(bytes(data))
    data = bytearray(sample())
    data[-1] ^= 0x40
    reader = ContainerReader(bytes(data))
    assert reader.read_chunk(0) == b"first"
    with pytest.raises(BitstreamError, match="chunk 2 at offset .* CRC mismatch"):
        reader.read_chunk(2)


def test_limits_are_checked_before_allocation():
    # A header that claims 2**40 chunks / a 4 GiB header must fail fast, not allocate.
    huge = PRELUDE.pack(b"NCDC", 1, 1, 0, LIMITS.header_bytes + 1)
    with pytest.raises(BitstreamError, match="exceeds the limit"):
        parse_header(huge + b"\0" * 8, None)
    body = b"\x00\x00\x00" + b"\x80\x80\x80\x80\x80\x01"  # ids, metadata, chunk count 2**35
    head = bytearray(PRELUDE.pack(b"NCDC", 1, 1, 0, len(body)) + body + b"\0\0\0\0")
    with pytest.raises(BitstreamError, match="chunk count = .* exceeds the limit"):
        parse_header(bytes(fix_header_crc(head)), None)


def test_header_parse_errors_name_the_offset():
    body = b"\x05ab"  # codec id claims 5 bytes, has 2
    head = bytearray(PRELUDE.pack(b"NCDC", 1, 1, 0, len(body)) + body + b"\0\0\0\0")
    with pytest.raises(BitstreamError, match=r"codec id: needs 5 bytes.*offset 13"):
        parse_header(bytes(fix_header_crc(head)), None)


@pytest.mark.parametrize(
    "metadata",
    [{"Bad-Key": 1}, {"k": object()}, {"k": (1, 2.0)}, {"k": 2**70}, {"k": "x" * 70000}],
)
def test_writer_rejects_metadata_the_reader_could_not_read(metadata):
    with pytest.raises(ValueError):
        container_bytes("raw", "raw-v1", [], metadata)


def test_writer_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown kind"):
        container_bytes("hologram", "x", [], {})


# --------------------------------------------------------------------------- compact form


def compact_header() -> tuple[str, str, str, dict]:
    from codec.container import COMPACT_PROFILES

    profile = COMPACT_PROFILES[1]
    return profile.kind, profile.codec_id, profile.weights_id, dict(profile.metadata)


def test_single_chunk_with_a_profile_header_is_written_compact():
    kind, codec_id, weights_id, metadata = compact_header()
    payload = b"\x01\x02\x03 digit payload"
    data = container_bytes(kind, codec_id, [payload], metadata, weights_id)
    assert data[:4] == b"NCc\x01" and len(data) == len(payload) + 8
    reader = ContainerReader(data)
    assert (reader.header.kind, reader.header.codec_id) == (kind, codec_id)
    assert reader.header.weights_id == weights_id
    assert dict(reader.header.metadata) == metadata
    assert reader.read_chunk(0) == payload
    # two chunks, or another header, take the full form
    assert container_bytes(kind, codec_id, [payload, b""], metadata, weights_id)[:4] == b"NCDC"
    other = {**metadata, "shape": (28, 29)}
    assert container_bytes(kind, codec_id, [payload], other, weights_id)[:4] == b"NCDC"


def test_compact_form_errors_are_clear():
    kind, codec_id, weights_id, metadata = compact_header()
    data = bytearray(container_bytes(kind, codec_id, [b"payload"], metadata, weights_id))
    for position in (3, 5, len(data) - 1):
        broken = bytearray(data)
        broken[position] ^= 0x10
        with pytest.raises(BitstreamError, match="CRC"):
            ContainerReader(bytes(broken))
    unknown = bytearray(data)
    unknown[3] = 200
    struct.pack_into("<I", unknown, len(unknown) - 4, zlib.crc32(bytes(unknown[:-4])))
    with pytest.raises(UnsupportedVersionError, match="compact profile 200"):
        ContainerReader(bytes(unknown))
    with pytest.raises(BitstreamError, match="too short"):
        ContainerReader(b"NCc\x01")


def _compact_image_file(values: list[int], lengths: list[int], payload: bytes) -> bytes:
    """A compact file of profile 2 built by hand: integer keys, chunk lengths (LEB128),
    payload, CRC."""
    body = bytearray(b"NCc\x02")
    for value in values + lengths:
        while value > 0x7F:
            body.append(value & 0x7F | 0x80)
            value >>= 7
        body.append(value)
    body += payload
    return bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))


def test_compact_form_carries_integer_keys_and_chunk_lengths():
    from codec.container import COMPACT_PROFILES

    profile = COMPACT_PROFILES[2]
    ids = (profile.kind, profile.codec_id)
    metadata = {"height": 333, "width": 517, "channels": 1, "quality": 9}
    chunks = [b"z" * 3, b"", b"a" * 200, b"b", b"c" * 5, b"d" * 7]
    data = container_bytes(*ids, chunks, metadata, profile.weights_id)
    assert data == _compact_image_file([333, 517, 1, 9], [3, 0, 200, 1, 5], b"".join(chunks))
    reader = ContainerReader(data)
    assert dict(reader.header.metadata) == metadata
    assert list(reader.iter_chunks()) == chunks
    assert reader.header.total_size == len(data)
    full = container_bytes(*ids, chunks, metadata, profile.weights_id, compact=False)
    assert full[:4] == b"NCDC" and len(full) > len(data)
    # headers the profile does not stand for take the full form
    misfits = [
        (chunks[:5], metadata),  # another chunk count
        (chunks, {**metadata, "quality": -1}),  # a negative value
        (chunks, {**metadata, "quality": 9.0}),  # not an int
        (chunks, {k: v for k, v in metadata.items() if k != "channels"}),  # a missing key
        (chunks, {**metadata, "extra": 1}),  # an extra key
        (chunks[:5] + [b"x" * 65536], metadata),  # more than 64 KiB in all
    ]
    for other_chunks, other_metadata in misfits:
        other = container_bytes(*ids, other_chunks, other_metadata, profile.weights_id)
        assert other[:4] == b"NCDC", other_metadata
        assert ContainerReader(other).header.metadata == other_metadata
    with pytest.raises(ValueError, match="64 bits"):  # neither form holds it
        container_bytes(*ids, chunks, {**metadata, "height": 1 << 63}, profile.weights_id)


def test_compact_chunk_lengths_past_the_payload_are_refused():
    with pytest.raises(BitstreamError, match="past the payload"):
        ContainerReader(_compact_image_file([64, 96, 3, 6], [4, 4, 4, 4, 4], b"x" * 19))
    with pytest.raises(BitstreamError, match="compact chunk 0 length"):
        ContainerReader(_compact_image_file([64, 96, 3, 6], [40], b"x" * 19))
    with pytest.raises(BitstreamError, match="compact quality"):
        ContainerReader(_compact_image_file([64, 96, 3], [], b""))

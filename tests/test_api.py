"""The Python API and the raw codec behind it."""

from __future__ import annotations

import numpy as np
import pytest

import codec
from codec.container import ContainerReader
from codec.errors import InputError, KindNotAvailableError, OutputExistsError
from models.raw.codec import BLOCK_BYTES


@pytest.mark.parametrize(
    "data, method",
    [
        (b"", None),
        (np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes(), 0),
        (np.sqrt(np.random.default_rng(2).integers(0, 65536, 20000)).astype(np.uint8).tobytes(), 1),
        (b"text compresses with zstd " * 200, 2),
    ],
)
def test_raw_roundtrip_picks_the_smallest_method(data, method):
    blob = codec.encode(data)
    reader = ContainerReader(blob)
    assert [reader.read_chunk(i)[0] for i in range(len(reader.header.chunks))] == (
        [] if method is None else [method]
    )
    decoded = codec.decode(blob)
    assert decoded.kind == "raw" and decoded.media == data
    assert decoded.header.metadata["size"] == len(data)


def test_multi_chunk_file_roundtrip_and_info(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.integers(0, 40, BLOCK_BYTES * 2 + 123, dtype=np.uint8).tobytes()
    src, dst, back = tmp_path / "in.bin", tmp_path / "out.ncdc", tmp_path / "back.bin"
    src.write_bytes(data)
    report = codec.encode_file(src, dst)
    assert report.kind == "raw" and report.output_bytes == dst.stat().st_size
    assert report.output_bytes < 0.8 * len(data)
    header = codec.info(dst)
    assert len(header.chunks) == 3 and header.metadata["size"] == len(data)
    assert codec.decode_file(dst, back).output_bytes == len(data)
    assert back.read_bytes() == data
    with pytest.raises(OutputExistsError):
        codec.decode_file(dst, back)


def test_api_errors_are_codec_errors(tmp_path):
    with pytest.raises(InputError, match="kind is required"):
        codec.encode(np.zeros((4, 4), np.uint8))
    with pytest.raises(KindNotAvailableError, match="unknown kind"):
        codec.encode(b"x", kind="hologram")
    with pytest.raises(InputError, match="does not exist"):
        codec.info(tmp_path / "nope")

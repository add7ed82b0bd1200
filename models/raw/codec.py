"""Lossless codec for arbitrary bytes (the ``raw`` kind, codec id ``raw-v1``).

The input is cut into 1 MiB blocks, one chunk each, so encoding and decoding stream with one
block in memory. Each chunk is one method byte followed by the block coded with the smallest
of three methods:

- 0 stored: the bytes as they are;
- 1 adaptive: an order-0 adaptive byte model (``entropy.AdaptiveContextModel``) on an ANS
  stream -- wins on data with skewed byte statistics but no repeats (e.g. PCM, floats);
- 2 zstd: a Zstandard frame (level 19) -- wins on text and anything with repeats.

Header metadata: ``size`` (bytes) and ``crc32`` of the whole input, checked after decoding.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import zstandard

from codec.container import ContainerHeader
from codec.errors import BitstreamError, InputError
from codec.registry import Codec, DecodeOptions, Encoded, EncodeOptions
from codec.zstd import decompress_at_most
from entropy import AdaptiveContextModel, SymbolDecoder, SymbolEncoder

BLOCK_BYTES = 1 << 20
STORED, ADAPTIVE, ZSTD = 0, 1, 2
ZSTD_LEVEL = 19


def _byte_model() -> AdaptiveContextModel:
    return AdaptiveContextModel(1, 256)


def _encode_block(block: bytes) -> bytes:
    encoder = SymbolEncoder()
    _byte_model().encode(encoder, np.frombuffer(block, dtype=np.uint8))
    candidates = [
        bytes([STORED]) + block,
        bytes([ADAPTIVE]) + encoder.to_bytes(),
        bytes([ZSTD]) + zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(block),
    ]
    return min(candidates, key=len)


def _decode_block(chunk: bytes, size: int, index: int) -> bytes:
    method, payload = chunk[:1], chunk[1:]
    if method == bytes([STORED]):
        block = payload
    elif method == bytes([ADAPTIVE]):
        decoder = SymbolDecoder(payload)
        block = _byte_model().decode(decoder, size).astype(np.uint8).tobytes()
        decoder.finish()
    elif method == bytes([ZSTD]):
        block = decompress_at_most(payload, size, f"raw chunk {index}")
    else:
        raise BitstreamError(f"raw chunk {index}: unknown method byte {method!r}")
    if len(block) != size:
        raise BitstreamError(f"raw chunk {index}: decoded {len(block)} bytes, expected {size}")
    return block


class RawCodec(Codec):
    """Any byte string, losslessly; see the module docstring for the chunk format."""

    kind = "raw"
    codec_id = "raw-v1"

    def encode(self, media: bytes | BinaryIO, options: EncodeOptions) -> Encoded:
        """media: bytes, or a binary file object read block by block."""
        options.require_only("raw codec (lossless bytes)")
        if isinstance(media, (bytes, bytearray, memoryview)):
            media = io.BytesIO(bytes(media))
        elif not hasattr(media, "read"):
            raise InputError(f"raw input must be bytes or a file, not {type(media).__name__}")
        metadata: dict = {"size": 0, "crc32": 0}
        return Encoded(self._chunks(media, metadata), metadata)

    @staticmethod
    def _chunks(source: BinaryIO, metadata: dict) -> Iterator[bytes]:
        size, crc = 0, 0
        while block := source.read(BLOCK_BYTES):
            size += len(block)
            crc = zlib.crc32(block, crc)
            yield _encode_block(block)
        metadata.update(size=size, crc32=crc)

    def decode(
        self, header: ContainerHeader, chunks: Iterator[bytes], options: DecodeOptions
    ) -> Iterator[bytes]:
        """Generator of decoded blocks; the size and CRC are checked against the header
        before the first and after the last block."""
        size, crc = header.metadata.get("size"), header.metadata.get("crc32")
        if not isinstance(size, int) or not isinstance(crc, int) or size < 0:
            raise BitstreamError("raw header needs integer metadata 'size' >= 0 and 'crc32'")
        n_blocks = -(-size // BLOCK_BYTES)
        if n_blocks != len(header.chunks):
            raise BitstreamError(
                f"raw header: size {size} needs {n_blocks} chunks, file has {len(header.chunks)}"
            )
        return self._blocks(chunks, size, crc)

    @staticmethod
    def _blocks(chunks: Iterator[bytes], size: int, crc: int) -> Iterator[bytes]:
        actual = 0
        for index, chunk in enumerate(chunks):
            block = _decode_block(chunk, min(BLOCK_BYTES, size - index * BLOCK_BYTES), index)
            actual = zlib.crc32(block, actual)
            yield block
        if actual != crc:
            raise BitstreamError(f"raw data CRC mismatch: got {actual:08x}, header says {crc:08x}")

"""Bit-exact coding of one tensor's elements, alone or against a reference tensor.

Floats (float32, float16, bfloat16) are split into fields (docs/checkpoint.md):

- **plain**: per block of ``BLOCK`` elements, the common trailing zero count of the low
  mantissa bits is coded first (adaptive model) -- this finds tensors or rows stored in a
  lower precision (e.g. float16 values kept in float32). Then the head (sign, exponent and
  the top ``HEAD_MANTISSA_BITS`` mantissa bits) is coded with an adaptive model whose
  context says whether the block has such zeros, and the other mantissa bits above the
  zeros are stored raw: they are close to uniform, so modelling them would cost time and
  gain nothing.
- **reference**: elements are mapped to order-preserving integers and the difference to the
  reference element is coded: its bit length with an adaptive model whose context is the
  reference element's exponent, then the sign and the bits below the leading one raw.

Contexts always come from data the decoder has before it decodes a call (the reference,
or an earlier field), never from the previous symbol of the same call.

Every other dtype (ints, bool, float64, complex) is coded as byte planes with zstd, after
an XOR with the reference when there is one. Raw bits go to a separate byte section; the
entropy-coded symbols to one ANS stream (entropy.SymbolEncoder).
"""

from __future__ import annotations

import numpy as np
import zstandard

from codec.errors import BitstreamError
from codec.zstd import decompress_at_most
from entropy import AdaptiveContextModel, SymbolDecoder, SymbolEncoder
from models.checkpoint.bitpack import pack, unpack
from models.checkpoint.floats import FloatFormat, from_ordered, ordered

#: Elements per trailing-zero block (plain mode).
BLOCK = 256
#: Mantissa bits coded with the sign and exponent (plain mode): within an octave the density
#: of trained weights is not flat, the top bits carry ~0.05 bits of information.
HEAD_MANTISSA_BITS = 2
ZSTD_LEVEL = 3
#: Adaptive models refresh their tables every this many symbols once warmed up, and start
#: every count at MODEL_INITIAL (increment 32): the head alphabets are large and sparse.
MODEL_BLOCK = 16384
MODEL_INITIAL = 1


class ModelBank:
    """The adaptive models of one checkpoint: created empty for each encode or decode and
    shared by its tensors in order, so small tensors do not each pay for learning the
    statistics again. Keyed by what is coded and the float format."""

    def __init__(self) -> None:
        self._models: dict[tuple, AdaptiveContextModel] = {}

    def get(self, key: tuple, n_contexts: int, alphabet: int) -> AdaptiveContextModel:
        model = self._models.get(key)
        if model is None:
            model = AdaptiveContextModel(
                n_contexts, alphabet, block_size=MODEL_BLOCK, initial=MODEL_INITIAL
            )
            self._models[key] = model
        return model


def _bit_length(values: np.ndarray) -> np.ndarray:
    """Bit length of unsigned values below 2**53 (0 for 0), as int64."""
    return np.frexp(values.astype(np.float64))[1].astype(np.int64)


def _trailing_zeros(values: np.ndarray, cap: int) -> np.ndarray:
    """Trailing zero bits of uint32 values (``cap`` for 0), as int64."""
    lowest = values & (~values + np.uint32(1))
    return np.where(values == 0, cap, _bit_length(lowest) - 1)


# --- floats, plain ------------------------------------------------------------------------


def encode_float_plain(
    bits: np.ndarray, fmt: FloatFormat, encoder: SymbolEncoder, bank: ModelBank
) -> bytes:
    """bits: (N,) unsigned ints of ``fmt``'s width. Codes the symbols, returns the raw bits.

    Zeros and subnormals (exponent field 0; e.g. Adam moments of unused inputs decay into a
    few repeated subnormals) get one of two extra head symbols (by sign), then the bit length
    of their mantissa (adaptive) and the bits below its leading one raw.
    """
    bits = bits.astype(np.uint32, copy=False)
    m = fmt.mantissa_bits - HEAD_MANTISSA_BITS
    mantissa = bits & np.uint32((1 << m) - 1)
    n_blocks = -(-bits.size // BLOCK)
    padded = np.zeros(n_blocks * BLOCK, dtype=np.uint32)
    padded[: bits.size] = mantissa
    # the trailing zeros common to a block are those of the OR of its mantissas
    block_zeros = _trailing_zeros(np.bitwise_or.reduce(padded.reshape(n_blocks, BLOCK), 1), m)
    bank.get(("zeros", fmt.name), 1, m + 1).encode(encoder, block_zeros)
    shift = np.repeat(block_zeros, BLOCK)[: bits.size]
    top = 1 << (fmt.width - m)
    head = (bits >> np.uint32(m)).astype(np.int64)
    values, widths = mantissa >> shift.astype(np.uint32), (m - shift).astype(np.uint8)
    magnitude = bits & np.uint32((1 << (fmt.width - 1)) - 1)
    small = (magnitude >> np.uint32(fmt.mantissa_bits)) == 0  # zero or subnormal
    head[small] = top + (bits[small] >> np.uint32(fmt.width - 1))
    bank.get(("head", fmt.name), 2, top + 2).encode(encoder, head, shift > 0)
    length = _bit_length(magnitude[small])
    bank.get(("subnormal", fmt.name), 1, fmt.mantissa_bits + 1).encode(encoder, length)
    values[small] = magnitude[small] - _leading(length)
    widths[small] = np.maximum(length - 1, 0)
    return pack(values, widths)


def _leading(length: np.ndarray) -> np.ndarray:
    """2**(length - 1) as uint32, 0 for length 0."""
    return np.where(length > 0, np.left_shift(1, np.maximum(length, 1) - 1), 0).astype(np.uint32)


def decode_float_plain(
    count: int, fmt: FloatFormat, decoder: SymbolDecoder, raw: memoryview, bank: ModelBank
) -> np.ndarray:
    """Inverse of :func:`encode_float_plain`: (count,) uint32 bits."""
    m = fmt.mantissa_bits - HEAD_MANTISSA_BITS
    block_zeros = bank.get(("zeros", fmt.name), 1, m + 1).decode(decoder, -(-count // BLOCK))
    shift = np.repeat(block_zeros, BLOCK)[:count]
    top = 1 << (fmt.width - m)
    head = bank.get(("head", fmt.name), 2, top + 2).decode(decoder, count, shift > 0)
    small = head >= top
    length = bank.get(("subnormal", fmt.name), 1, fmt.mantissa_bits + 1).decode(
        decoder, int(small.sum())
    )
    widths = (m - shift).astype(np.uint8)
    widths[small] = np.maximum(length - 1, 0)
    values = unpack(raw, widths)
    bits = (head.astype(np.uint32) << np.uint32(m)) | (values << shift.astype(np.uint32))
    sign = (head[small] - top).astype(np.uint32) << np.uint32(fmt.width - 1)
    bits[small] = sign | (values[small] + _leading(length))
    return bits


# --- floats, against a reference ----------------------------------------------------------


def _exponents(fmt: FloatFormat) -> int:
    return 1 << (fmt.head_bits - 1)


def _exponent(bits: np.ndarray, fmt: FloatFormat) -> np.ndarray:
    """Biased exponent field of float bit patterns, as int64."""
    return ((bits >> np.uint64(fmt.mantissa_bits)) & np.uint64(_exponents(fmt) - 1)).astype(
        np.int64
    )


def encode_float_reference(
    bits: np.ndarray,
    reference: np.ndarray,
    fmt: FloatFormat,
    encoder: SymbolEncoder,
    bank: ModelBank,
) -> bytes:
    """bits, reference: (N,) unsigned ints of ``fmt``. Codes symbols, returns the raw bits."""
    w = fmt.width
    diff = ordered(bits.astype(np.uint64), w) - ordered(reference.astype(np.uint64), w)
    magnitude = np.abs(diff).astype(np.uint64)
    length = _bit_length(magnitude)  # 0..w
    lengths = bank.get(("length", fmt.name), _exponents(fmt), w + 1)
    lengths.encode(encoder, length, _exponent(reference, fmt))
    # below the leading one: length - 1 bits, then the sign bit
    leading = np.where(length > 0, np.uint64(1) << (length.astype(np.uint64) - 1), 0)
    rest = ((magnitude - leading.astype(np.uint64)) << np.uint64(1)) | (diff < 0)
    return pack(np.where(length > 0, rest, 0), length.astype(np.uint8))


def decode_float_reference(
    reference: np.ndarray,
    fmt: FloatFormat,
    decoder: SymbolDecoder,
    raw: memoryview,
    bank: ModelBank,
) -> np.ndarray:
    """Inverse of :func:`encode_float_reference`: (N,) uint64 bits."""
    w = fmt.width
    lengths = bank.get(("length", fmt.name), _exponents(fmt), w + 1)
    length = lengths.decode(decoder, reference.size, _exponent(reference, fmt))
    rest = unpack(raw, length.astype(np.uint8))
    leading = np.where(length > 0, np.uint64(1) << (np.maximum(length, 1) - 1).astype(np.uint64), 0)
    magnitude = ((rest >> np.uint64(1)) + leading.astype(np.uint64)).astype(np.int64)
    diff = np.where(rest & np.uint64(1), -magnitude, magnitude)
    values = ordered(reference.astype(np.uint64), w) + diff
    if values.size and (values.min() < -(1 << (w - 1)) or values.max() >= 1 << (w - 1)):
        raise BitstreamError("checkpoint tensor: decoded difference leaves the float range")
    return from_ordered(values, w)


# --- other dtypes ---------------------------------------------------------------------------


def encode_bytes(data: np.ndarray, itemsize: int, reference: np.ndarray | None) -> bytes:
    """data: (N*itemsize,) uint8 -> zstd frame of its byte planes (XOR reference first)."""
    if reference is not None:
        data = data ^ reference
    planes = data.reshape(-1, itemsize).T.tobytes()
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(planes)


def decode_bytes(
    payload: bytes | memoryview, size: int, itemsize: int, reference: np.ndarray | None
) -> np.ndarray:
    """Inverse of :func:`encode_bytes`: (size,) uint8; reads at most size + 1 bytes."""
    planes = decompress_at_most(payload, size, "checkpoint tensor")
    if len(planes) != size:
        raise BitstreamError(f"checkpoint tensor: {len(planes)} bytes decoded, expected {size}")
    data = np.frombuffer(planes, dtype=np.uint8).reshape(itemsize, -1).T.reshape(-1)
    return data ^ reference if reference is not None else data.copy()

"""Checkpoint codec ``checkpoint-v1``: one chunk per tensor, coded alone or against the tensor
at the same path in a reference checkpoint (see docs/checkpoint.md for the byte layout).

Chunk 0 is the manifest (zstd-compressed JSON: file format, structure, tensor paths, dtypes,
shapes, safetensors metadata); chunk i + 1 codes tensor i::

    u8 method | u8 flags (bit 0: uses the reference) | [u32 reference CRC-32]
    u32 CRC-32 of the decoded tensor bytes | [f64 step]  (near-lossless methods)
    [u32 ANS stream bytes | stream]  (all methods but BYTES) | rest: raw bits or zstd frame

The reference CRC makes a wrong ``--reference`` fail with a clear error before decoding;
the decoded CRC catches anything else. Memory stays at about one tensor and its reference.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import zstandard

from codec.container import ContainerHeader
from codec.errors import BitstreamError, InputError, InvalidParameterError
from codec.media.checkpoint import (
    DTYPES,
    CheckpointSource,
    DecodedCheckpoint,
    TensorInfo,
    dtype_itemsize,
    from_object,
)
from codec.registry import Codec, DecodeOptions, Encoded, EncodeOptions
from codec.zstd import decompress_at_most
from entropy import SymbolDecoder, SymbolEncoder
from models.checkpoint import lossless, nearlossless
from models.checkpoint.floats import FLOAT_FORMATS, float_values, values_to_bytes

BYTES, FLOAT_PLAIN, FLOAT_REFERENCE, NEAR_VALUE, NEAR_RELATIVE = range(5)
USES_REFERENCE = 1
#: Second-moment optimizer states (non-negative): near-lossless keeps their relative error.
SECOND_MOMENTS = ("exp_avg_sq", "max_exp_avg_sq", "square_avg")
#: Optimizer moments (last path component): near-lossless codes them with ``state_error``.
OPTIMIZER_MOMENTS = SECOND_MOMENTS + ("exp_avg", "momentum_buffer", "acc_delta", "exp_inf")
MAX_MANIFEST_BYTES = 1 << 26
MAX_TENSOR_BYTES = 1 << 36
#: Smaller float tensors (step counters, scalars, tiny biases) stay lossless in
#: near-lossless mode: they cost little and counters must stay exact.
NEAR_MIN_ELEMENTS = 64
#: Elements per coding segment of a float tensor (bounds the working memory to ~30 MB).
SEGMENT = 1 << 18
DEFAULT_MAX_ERROR = 1e-3


@dataclass(frozen=True)
class _Settings:
    near_lossless: bool
    bound: float  # parameters and everything else
    state_bound: float  # optimizer moments

    def bound_for(self, path: str) -> float:
        return self.state_bound if path.rsplit("/", 1)[-1] in OPTIMIZER_MOMENTS else self.bound


class CheckpointCodec(Codec):
    """Neural-network checkpoints, lossless by default; near-lossless with ``max_error``."""

    kind = "checkpoint"
    codec_id = "checkpoint-v1"

    def encode(self, media: Any, options: EncodeOptions) -> Encoded:
        """media: a CheckpointSource or an in-memory structure of torch tensors."""
        options.require_only(
            "checkpoint codec (near-lossless: --max-error)", "reference", "max_error", "state_error"
        )
        source = media if isinstance(media, CheckpointSource) else from_object(media)
        reference = _as_source(options.reference)
        if options.state_error is not None and options.max_error is None:
            raise InvalidParameterError("--state-error needs --max-error (near-lossless mode)")
        bound = options.max_error or 0.0
        state_bound = options.state_error if options.state_error is not None else bound
        settings = _Settings(options.max_error is not None, bound, state_bound)
        for value in (bound, state_bound) if settings.near_lossless else ():
            if not 0 < value < 1:
                raise InvalidParameterError(f"error bounds must lie in (0, 1), got {value}")
        metadata: dict = {
            "tensors": len(source.tensors),
            "mode": "near-lossless" if settings.near_lossless else "lossless",
            "bytes": sum(info.nbytes for info in source.tensors),
        }
        if settings.near_lossless:
            metadata["max_error"] = settings.bound
            metadata["state_error"] = settings.state_bound
        if reference is not None:
            metadata["reference"] = reference.name or "(in memory)"
        return Encoded(self._chunks(source, reference, settings), metadata)

    def _chunks(
        self, source: CheckpointSource, reference: CheckpointSource | None, settings: _Settings
    ) -> Iterator[bytes]:
        yield _manifest_bytes(source)
        banks = _Banks()
        by_path = reference.index_of() if reference is not None else {}
        for i, info in enumerate(source.tensors):
            ref = None
            j = by_path.get(info.path)
            if j is not None and reference.tensors[j] == info:
                ref = reference.tensor(j)
            yield encode_tensor(info, source.tensor(i), ref, settings, banks[info.path])

    def decode(
        self, header: ContainerHeader, chunks: Iterator[bytes], options: DecodeOptions
    ) -> DecodedCheckpoint:
        count = header.metadata.get("tensors")
        if not isinstance(count, int) or count + 1 != len(header.chunks):
            raise BitstreamError("checkpoint header: tensor count does not match the chunks")
        try:
            first = next(chunks)
        except StopIteration:
            raise BitstreamError("checkpoint stream has no manifest chunk") from None
        file_format, manifest, infos, metadata = _parse_manifest(first, count)
        reference = _as_source(options.reference)
        return DecodedCheckpoint(
            file_format, manifest, infos, _tensors(infos, chunks, reference), metadata
        )


class _Banks:
    """One :class:`lossless.ModelBank` per tensor role (the last name of its path, e.g.
    ``weight``, ``bias``, ``exp_avg_sq``): tensors of one role share statistics."""

    def __init__(self) -> None:
        self._banks: dict[str, lossless.ModelBank] = {}

    def __getitem__(self, path: str) -> lossless.ModelBank:
        role = path.rsplit("/", 1)[-1].rsplit(".", 1)[-1]
        return self._banks.setdefault(role, lossless.ModelBank())


def _as_source(reference: Any) -> CheckpointSource | None:
    if reference is None or isinstance(reference, CheckpointSource):
        return reference
    return from_object(reference)


def _tensors(
    infos: list[TensorInfo], chunks: Iterator[bytes], reference: CheckpointSource | None
) -> Iterator[np.ndarray]:
    by_path = reference.index_of() if reference is not None else {}
    banks = _Banks()
    for info in infos:
        chunk = next(chunks, None)
        if chunk is None:
            raise BitstreamError("checkpoint stream ended before its last tensor")

        def load_reference(info: TensorInfo = info) -> np.ndarray:
            j = by_path.get(info.path)
            if reference is None:
                raise InputError(
                    "this checkpoint was coded against a reference checkpoint: pass it with"
                    " --reference (the same file that was used to encode)"
                )
            if j is None or reference.tensors[j].dtype != info.dtype:
                raise InputError(f"the reference has no {info.dtype} tensor {info.path!r}")
            if reference.tensors[j].shape != info.shape:
                raise InputError(f"reference tensor {info.path!r} has another shape")
            return reference.tensor(j)

        yield decode_tensor(info, chunk, load_reference, banks[info.path])


# --- manifest -------------------------------------------------------------------------------


def _manifest_bytes(source: CheckpointSource) -> bytes:
    manifest = {
        "format": source.file_format,
        "tree": source.manifest,
        "tensors": [[t.path, t.dtype, list(t.shape)] for t in source.tensors],
        "metadata": source.metadata,
    }
    text = json.dumps(manifest, separators=(",", ":"), allow_nan=True).encode()
    return zstandard.ZstdCompressor(level=9).compress(text)


def _parse_manifest(chunk: bytes, count: int):
    try:
        text = decompress_at_most(chunk, MAX_MANIFEST_BYTES, "checkpoint manifest")
        if len(text) > MAX_MANIFEST_BYTES:
            raise BitstreamError("checkpoint manifest is too large")
        manifest = json.loads(text)
        file_format, tree = manifest["format"], manifest["tree"]
        metadata = manifest["metadata"]
        infos = [TensorInfo(str(p), d, tuple(int(n) for n in s)) for p, d, s in manifest["tensors"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise BitstreamError(f"checkpoint manifest is corrupt ({type(exc).__name__})") from None
    if file_format not in ("safetensors", "torch") or len(infos) != count:
        raise BitstreamError("checkpoint manifest does not match the header")
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise BitstreamError("checkpoint manifest metadata must map strings to strings")
    for info in infos:
        if info.dtype not in DTYPES or any(n < 0 for n in info.shape):
            raise BitstreamError(f"checkpoint manifest: bad tensor {info.path!r}")
        if np.prod(info.shape, dtype=np.float64) * dtype_itemsize(info.dtype) > MAX_TENSOR_BYTES:
            raise BitstreamError(f"checkpoint manifest: tensor {info.path!r} is too large")
    return file_format, tree, infos, metadata


# --- one tensor -----------------------------------------------------------------------------


def _is_second_moment(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in SECOND_MOMENTS


def encode_tensor(
    info: TensorInfo,
    data: np.ndarray,
    reference: np.ndarray | None,
    settings: _Settings,
    bank: lossless.ModelBank,
) -> bytes:
    """One tensor chunk. data, reference: raw bytes as (nbytes,) uint8; ``bank``: the
    adaptive models shared with the checkpoint's earlier tensors. Float tensors are coded in
    segments of SEGMENT elements, so the working memory does not grow with the tensor."""
    fmt = FLOAT_FORMATS.get(info.dtype)
    flags = USES_REFERENCE if reference is not None else 0
    head = bytearray([BYTES, flags])
    if reference is not None:
        head += struct.pack("<I", zlib.crc32(reference))
    if fmt is None:
        head += struct.pack("<I", zlib.crc32(data))
        return bytes(head) + lossless.encode_bytes(data, info.itemsize, reference)
    plan = None
    if settings.near_lossless and data.size >= NEAR_MIN_ELEMENTS * info.itemsize:
        plan = _plan_near(info, data, reference, settings.bound_for(info.path))
    if plan is None:
        plan = (FLOAT_REFERENCE if reference is not None else FLOAT_PLAIN, 0.0)
    method, step = plan
    head[0] = method
    crc, segments = 0, []
    bits = data.view(fmt.uint)
    ref_bits = reference.view(fmt.uint) if reference is not None else None
    for start in range(0, bits.size, SEGMENT):
        part = slice(start, start + SEGMENT)
        encoder = SymbolEncoder()
        seg_ref = ref_bits[part] if ref_bits is not None else None
        raw, decoded = _encode_segment(method, fmt, bits[part], seg_ref, step, encoder, bank)
        crc = zlib.crc32(decoded, crc)
        stream = encoder.to_bytes()
        segments += [struct.pack("<I", len(stream)), stream, struct.pack("<I", len(raw)), raw]
    head += struct.pack("<I", crc)
    if method in (NEAR_VALUE, NEAR_RELATIVE):
        head += struct.pack("<d", step)
    return b"".join([head, *segments])


def _encode_segment(method, fmt, bits, ref_bits, step, encoder, bank) -> tuple[bytes, bytes]:
    """(raw bits, decoded bytes) of one segment of a float tensor."""
    if method == FLOAT_PLAIN:
        return lossless.encode_float_plain(bits, fmt, encoder, bank), bits.view(np.uint8)
    if method == FLOAT_REFERENCE:
        raw = lossless.encode_float_reference(bits, ref_bits, fmt, encoder, bank)
        return raw, bits.view(np.uint8)
    if method == NEAR_RELATIVE:
        base = nearlossless.reference_base(ref_bits, fmt, bits.size)
        q, decoded = nearlossless.quantize_relative(bits, base, fmt, int(step))
        decoded = decoded.astype(fmt.uint).view(np.uint8)
    else:
        values = float_values(bits.view(np.uint8), fmt.name)
        base = _value_base(ref_bits, fmt, bits.size)
        q, recon = nearlossless.quantize_values(values, base, step)
        decoded = values_to_bytes(recon, fmt.name)
    nearlossless.encode_symbols(encoder, q, bank)
    return b"", decoded


def _value_base(ref_bits: np.ndarray | None, fmt, count: int) -> np.ndarray:
    if ref_bits is None:
        return np.zeros(count)
    return float_values(ref_bits.view(np.uint8), fmt.name)


def _plan_near(info, data, reference, bound) -> tuple[int, float] | None:
    """(method, step) of a near-lossless float tensor, or None when it must stay lossless
    (non-finite values, all zeros). Statistics are gathered segment by segment."""
    fmt = FLOAT_FORMATS[info.dtype]
    bits = data.view(fmt.uint)
    square_sum, smallest = 0.0, 0.0
    for source in (bits, reference.view(fmt.uint) if reference is not None else None):
        for start in range(0, 0 if source is None else source.size, SEGMENT):
            values = float_values(source[start : start + SEGMENT].view(np.uint8), info.dtype)
            if not np.isfinite(values).all():
                return None
            if source is bits:
                square_sum += float(np.square(values).sum())
                smallest = min(smallest, float(values.min(initial=0.0)))
    if _is_second_moment(info.path) and smallest >= 0:
        return NEAR_RELATIVE, float(nearlossless.relative_step(fmt, bound))
    step = nearlossless.value_step(square_sum, bits.size, bound)
    return (NEAR_VALUE, step) if step > 0 else None


def decode_tensor(
    info: TensorInfo, chunk: bytes, load_reference, bank: lossless.ModelBank
) -> np.ndarray:
    """Inverse of :func:`encode_tensor`: the tensor's raw bytes, (nbytes,) uint8."""
    view = memoryview(chunk)
    try:
        method, flags = view[0], view[1]
        offset = 2
        reference = None
        if not flags & USES_REFERENCE and info.nbytes > (len(chunk) << 17) + (1 << 20):
            # no coder here reaches 2**17 bytes per coded byte (zstd's limit is ~2**15)
            raise BitstreamError(f"tensor {info.path!r}: more data than its chunk can hold")
        if flags & USES_REFERENCE:
            (ref_crc,) = struct.unpack_from("<I", view, offset)
            offset += 4
            reference = load_reference()
            if zlib.crc32(reference) != ref_crc:
                raise InputError(
                    f"tensor {info.path!r}: the reference checkpoint differs from the one used"
                    " to encode (CRC mismatch)"
                )
        (crc,) = struct.unpack_from("<I", view, offset)
        offset += 4
        fmt = FLOAT_FORMATS.get(info.dtype)
        if method == BYTES:
            data = lossless.decode_bytes(view[offset:], info.nbytes, info.itemsize, reference)
        elif method in (FLOAT_PLAIN, FLOAT_REFERENCE, NEAR_VALUE, NEAR_RELATIVE) and fmt:
            if (method == FLOAT_REFERENCE) != (reference is not None) and method < NEAR_VALUE:
                raise BitstreamError(f"tensor {info.path!r}: method and reference flag disagree")
            step = 0.0
            if method in (NEAR_VALUE, NEAR_RELATIVE):
                (step,) = struct.unpack_from("<d", view, offset)
                offset += 8
                _check_step(info, method, step, fmt)
            data = _decode_segments(info, fmt, method, step, view[offset:], reference, bank)
        else:
            raise BitstreamError(f"tensor {info.path!r}: unknown method {method}")
    except (struct.error, IndexError):
        raise BitstreamError(f"tensor {info.path!r}: truncated chunk") from None
    if zlib.crc32(data) != crc:
        raise BitstreamError(f"tensor {info.path!r}: CRC mismatch after decoding")
    return data


def _check_step(info: TensorInfo, method: int, step: float, fmt) -> None:
    if method == NEAR_RELATIVE:
        valid = step == int(step) and 1 <= step < 1 << fmt.mantissa_bits + 1
    else:
        valid = bool(np.isfinite(step) and step > 0)
    if not valid:
        raise BitstreamError(f"tensor {info.path!r}: bad quantization step {step}")


def _decode_segments(info, fmt, method, step, view, reference, bank) -> np.ndarray:
    count = info.nbytes // info.itemsize
    out = np.empty(count, dtype=fmt.uint)
    ref_bits = reference.view(fmt.uint) if reference is not None else None
    offset = 0
    for start in range(0, count, SEGMENT):
        n = min(SEGMENT, count - start)
        (length,) = struct.unpack_from("<I", view, offset)
        stream = bytes(view[offset + 4 : offset + 4 + length])
        offset += 4 + length
        (raw_length,) = struct.unpack_from("<I", view, offset)
        raw = view[offset + 4 : offset + 4 + raw_length]
        offset += 4 + raw_length
        if len(stream) != length or len(raw) != raw_length:
            raise BitstreamError(f"tensor {info.path!r}: truncated segment")
        seg_ref = ref_bits[start : start + n] if ref_bits is not None else None
        decoder = SymbolDecoder(stream)
        if method == FLOAT_PLAIN:
            out[start : start + n] = lossless.decode_float_plain(n, fmt, decoder, raw, bank)
        elif method == FLOAT_REFERENCE:
            bits = lossless.decode_float_reference(seg_ref, fmt, decoder, raw, bank)
            out[start : start + n] = bits
        else:
            q = nearlossless.decode_symbols(decoder, n, bank)
            out[start : start + n] = _reconstruct_near(method, fmt, q, seg_ref, step)
        decoder.finish()
    if offset != len(view):
        raise BitstreamError(f"tensor {info.path!r}: {len(view) - offset} bytes after the data")
    return out.view(np.uint8)


def _reconstruct_near(method, fmt, q, ref_bits, step) -> np.ndarray:
    """Bit patterns of a near-lossless segment."""
    if method == NEAR_RELATIVE:
        base = nearlossless.reference_base(ref_bits, fmt, q.size)
        return nearlossless.reconstruct_relative(base, q, fmt, int(step)).astype(fmt.uint)
    recon = nearlossless.reconstruct_values(_value_base(ref_bits, fmt, q.size), q, step)
    return values_to_bytes(recon, fmt.name).view(fmt.uint)

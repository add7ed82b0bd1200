"""Public Python API: encode/decode in memory or between files, and ``info``."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from codec.container import (
    ContainerHeader,
    ContainerReader,
    container_bytes,
    read_header,
    write_container,
)
from codec.errors import BitstreamError, InputError, InvalidParameterError
from codec.fileio import atomic_output, check_output
from codec.media.detect import detect_kind
from codec.registry import DecodeOptions, EncodeOptions, get_kind

PathLike = str | os.PathLike[str]
T = TypeVar("T")


@dataclass(frozen=True)
class EncodeReport:
    """Sizes in bytes and wall time in seconds of one file encode."""

    kind: str
    codec_id: str
    input_bytes: int
    output_bytes: int
    seconds: float
    output: str = ""


@dataclass(frozen=True)
class DecodeReport:
    """Kind, output size in bytes and wall time in seconds of one file decode."""

    kind: str
    codec_id: str
    output_bytes: int
    seconds: float
    output: str = ""
    damaged: str = ""  # with salvage: what could not be decoded ("" when all was intact)


@dataclass(frozen=True)
class Decoded:
    """Result of :func:`decode`: the media (type depends on the kind) and the file header."""

    kind: str
    media: Any
    header: ContainerHeader


def _check_reference(kind: str, reference: Any, max_error: float | None) -> None:
    if (reference is not None or max_error is not None) and kind != "checkpoint":
        raise InvalidParameterError("--reference and --max-error apply to checkpoints only")


def _check_salvage(kind: str, salvage: bool) -> None:
    if salvage and kind != "video":
        raise InvalidParameterError("--salvage applies to video files only")


@contextlib.contextmanager
def _reference_source(kind: str, path: PathLike | None) -> Iterator[Any]:
    """The reference file opened with the kind's reader (None without a path)."""
    if path is None:
        yield None
        return
    path = Path(path)
    if not path.is_file():
        raise InputError(f"reference {path} does not exist or is not a file")
    with get_kind(kind).media_module().open_input(path) as source:
        yield source


def _progress(items: Iterable[T], total: int | None, desc: str, enabled: bool) -> Iterable[T]:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc=desc, unit="chunk", leave=False)


@contextlib.contextmanager
def _stream_errors() -> Iterator[None]:
    """While decoding, parameters derived from the stream are data: a bad one is corruption."""
    try:
        yield
    except InvalidParameterError as exc:
        raise BitstreamError(f"corrupt stream: {exc}") from None


def encode(
    media: Any,
    *,
    kind: str | None = None,
    quality: int | None = None,
    bitrate: float | None = None,
    device: str = "cpu",
    reference: Any = None,
    max_error: float | None = None,
    state_error: float | None = None,
    mode: str | None = None,
    epochs: int | None = None,
    time_limit: float | None = None,
    refine: int | None = None,
) -> bytes:
    """Encode in-memory media to container bytes. ``bytes`` input defaults to kind "raw".

    ``reference``, ``max_error`` and ``state_error`` apply to checkpoints (a structure of
    torch tensors): the previous checkpoint to code against, and the near-lossless error
    bounds of parameters and of optimizer moments (docs/checkpoint.md). ``mode``: a codec
    variant (audio: ``"rvq"`` or ``"fsq"``; video: ``"hyper"`` or ``"nerv"``). ``epochs`` /
    ``time_limit`` (seconds) bound the per-video fitting of the video nerv mode; ``refine``:
    encoder-side refinement steps (image: of the latent; video hyper mode: of the predicted
    weights, per segment).
    """
    if kind is None:
        if not isinstance(media, (bytes, bytearray, memoryview)):
            raise InputError("kind is required for non-bytes input (e.g. kind='image')")
        kind = "raw"
    _check_reference(kind, reference, max_error)
    codec = get_kind(kind).codec()
    options = EncodeOptions(
        quality=quality,
        bitrate_kbps=bitrate,
        device=device,
        reference=reference,
        max_error=max_error,
        state_error=state_error,
        mode=mode,
        epochs=epochs,
        time_limit=time_limit,
        refine=refine,
    )
    encoded = codec.encode(media, options)
    return container_bytes(
        kind, codec.codec_id, encoded.chunks, encoded.metadata, encoded.weights_id
    )


def decode(data: bytes, *, reference: Any = None, salvage: bool = False) -> Decoded:
    """Decode container bytes to media (raw kind: bytes). ``reference``: the checkpoint a
    checkpoint file was coded against; ``salvage``: decode the intact chunks of damaged
    data (video kind)."""
    reader = ContainerReader(bytes(data), salvage=salvage)
    spec = get_kind(reader.header.kind)
    _check_reference(spec.name, reference, None)
    _check_salvage(spec.name, salvage)
    codec = spec.codec(reader.header.codec_id)
    options = DecodeOptions(reference, salvage)
    with _stream_errors():
        media = spec.media_module().collect(
            codec.decode(reader.header, reader.iter_chunks(), options)
        )
    return Decoded(reader.header.kind, media, reader.header)


def encode_file(
    src: PathLike,
    dst: PathLike,
    *,
    kind: str | None = None,
    quality: int | None = None,
    bitrate: float | None = None,
    device: str = "cpu",
    reference: PathLike | None = None,
    max_error: float | None = None,
    state_error: float | None = None,
    mode: str | None = None,
    epochs: int | None = None,
    time_limit: float | None = None,
    refine: int | None = None,
    force: bool = False,
    progress: bool = False,
) -> EncodeReport:
    """Encode the file ``src`` into the container file ``dst`` (written atomically).

    ``reference``: checkpoint file to code against; ``max_error``/``state_error``:
    near-lossless bounds (checkpoints); ``mode``: a codec variant (audio: rvq or fsq; video:
    hyper or nerv); ``epochs`` / ``time_limit``: bounds of per-video fitting (video nerv
    mode); ``refine``: encoder-side refinement steps (image latent; video hyper mode,
    per segment). A folder of PNG frames is a video.
    """
    src, dst = Path(src), Path(dst)
    start = time.perf_counter()
    if src.is_dir() and kind in (None, "video"):
        kind = "video"
    elif not src.is_file():
        raise InputError(f"input {src} does not exist or is not a file")
    kind = kind or detect_kind(src)
    _check_reference(kind, reference, max_error)
    spec = get_kind(kind)
    codec = spec.codec()
    check_output(dst, force)
    try:
        source = spec.media_module().open_input(src)
    except OSError as exc:
        raise InputError(f"cannot read input {src}: {exc.strerror or exc}") from None
    with (
        source as media,
        _reference_source(kind, reference) as ref,
        atomic_output(dst, force) as tmp,
    ):
        options = EncodeOptions(
            quality=quality,
            bitrate_kbps=bitrate,
            device=device,
            reference=ref,
            max_error=max_error,
            state_error=state_error,
            mode=mode,
            epochs=epochs,
            time_limit=time_limit,
            refine=refine,
            progress=progress,
        )
        encoded = codec.encode(media, options)
        chunks = _progress(encoded.chunks, None, f"encoding {src.name}", progress)
        with open(tmp, "wb") as out, tempfile.TemporaryFile(dir=dst.parent) as spool:
            size = write_container(
                out, kind, codec.codec_id, chunks, encoded.metadata, encoded.weights_id, spool
            )
    seconds = time.perf_counter() - start
    return EncodeReport(kind, codec.codec_id, src.stat().st_size, size, seconds, str(dst))


def decode_file(
    src: PathLike,
    dst: PathLike,
    *,
    reference: PathLike | None = None,
    salvage: bool = False,
    force: bool = False,
    progress: bool = False,
) -> DecodeReport:
    """Decode the container file ``src`` into the media file ``dst`` (written atomically).

    ``reference``: the checkpoint file the input was coded against; ``salvage``: decode the
    chunks before the first truncated or damaged one (video), reported in ``damaged``.
    """
    src, dst = Path(src), Path(dst)
    start = time.perf_counter()
    if not src.is_file():
        raise InputError(f"input {src} does not exist or is not a file")
    check_output(dst, force)
    with open(src, "rb") as f:
        reader = ContainerReader(f, salvage=salvage)
        header = reader.header
        spec = get_kind(header.kind)
        _check_reference(spec.name, reference, None)
        _check_salvage(spec.name, salvage)
        codec = spec.codec(header.codec_id)
        chunks = _progress(
            reader.iter_chunks(), len(header.chunks), f"decoding {src.name}", progress
        )
        with (
            _reference_source(spec.name, reference) as ref,
            atomic_output(dst, force) as tmp,
            _stream_errors(),
        ):
            options = DecodeOptions(ref, salvage, progress)
            decoded = codec.decode(header, iter(chunks), options)
            spec.media_module().write(decoded, tmp)
    seconds = time.perf_counter() - start
    size = sum(f.stat().st_size for f in dst.iterdir()) if dst.is_dir() else dst.stat().st_size
    return DecodeReport(header.kind, header.codec_id, size, seconds, str(dst), reader.damaged)


def info(path: PathLike) -> ContainerHeader:
    """Header of a container file (reads the header only; imports no numerical library)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    return read_header(path)


__all__ = [
    "DecodeReport",
    "Decoded",
    "EncodeReport",
    "decode",
    "decode_file",
    "encode",
    "encode_file",
    "info",
]

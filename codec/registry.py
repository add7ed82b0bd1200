"""Kinds, the codecs that serve them, and the seam every codec implements.

A codec turns media into ``Encoded`` (metadata + chunk bytes) and back; it never touches files.
Codec classes and media readers are imported lazily so that ``codec info`` and ``codec --help``
do not pay for torch.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from codec.container import ContainerHeader, MetaValue
from codec.errors import BitstreamError, InvalidParameterError, KindNotAvailableError

#: Most encoder-side refinement steps an encode may ask for (``--refine``).
MAX_REFINE_STEPS = 10_000


@dataclass(frozen=True)
class EncodeOptions:
    """User choices; a codec rejects the ones that do not apply to it.

    ``reference``: a media object the input is coded against (checkpoint kind: the previous
    checkpoint); ``max_error`` / ``state_error``: near-lossless error bounds of parameters and
    of optimizer moments (checkpoint kind); ``mode``: a codec's variant (audio: ``rvq`` or
    ``fsq``; video: ``hyper`` or ``nerv``); ``epochs`` / ``time_limit``: bounds of per-video
    fitting (video nerv mode, seconds); ``refine``: encoder-side refinement steps (image:
    of the latent; video hyper mode: of the predicted weights, per segment); ``progress``:
    the codec may show progress bars of long inner work.
    """

    quality: int | None = None
    bitrate_kbps: float | None = None
    device: str = "cpu"
    reference: Any = None
    max_error: float | None = None
    state_error: float | None = None
    mode: str | None = None
    epochs: int | None = None
    time_limit: float | None = None
    refine: int | None = None
    progress: bool = False

    def refine_steps(self) -> int:
        """``refine`` (None = 0) checked against 0..MAX_REFINE_STEPS."""
        steps = self.refine or 0
        if not 0 <= steps <= MAX_REFINE_STEPS:
            raise InvalidParameterError(
                f"--refine must be 0..{MAX_REFINE_STEPS} steps, got {steps}"
            )
        return steps

    def require_only(self, codec: str, *accepted: str) -> None:
        """Raise ``InvalidParameterError`` naming the first option set by the user that
        ``codec`` does not take (``accepted``: field names it does take)."""
        for name, flag in _FLAGS.items():
            if name not in accepted and getattr(self, name) is not None:
                raise InvalidParameterError(f"the {codec} takes no {flag}")


_FLAGS = {
    "quality": "--quality",
    "bitrate_kbps": "--bitrate",
    "mode": "--mode",
    "reference": "--reference",
    "max_error": "--max-error",
    "state_error": "--state-error",
    "epochs": "--epochs",
    "time_limit": "--time-limit",
    "refine": "--refine",
}


@dataclass(frozen=True)
class DecodeOptions:
    """``reference``: the media object the file was coded against (checkpoint kind);
    ``salvage``: decode the intact chunks of a truncated or damaged file (video kind);
    ``progress``: the codec may show progress bars of long inner work."""

    reference: Any = None
    salvage: bool = False
    progress: bool = False


@dataclass
class Encoded:
    """What a codec produces: chunk bytes (possibly a generator) and header metadata.

    The container writer reads ``metadata`` only after consuming ``chunks``, so a streaming
    codec may complete it (e.g. a total size or checksum) while it yields chunks.
    """

    chunks: Iterable[bytes]
    metadata: dict[str, MetaValue] = field(default_factory=dict)
    weights_id: str = ""


class Codec(ABC):
    """One codec: ``kind`` + ``codec_id`` (written in every file it produces)."""

    kind: ClassVar[str]
    codec_id: ClassVar[str]

    @abstractmethod
    def encode(self, media: Any, options: EncodeOptions) -> Encoded:
        """Encode media (type defined by the kind's media module) into chunks + metadata."""

    @abstractmethod
    def decode(
        self, header: ContainerHeader, chunks: Iterator[bytes], options: DecodeOptions
    ) -> Any:
        """Decode the chunks of a container whose header names this codec."""


@dataclass(frozen=True)
class KindSpec:
    """A media kind: how files are recognised, read and written, and which codecs serve it.

    ``codecs`` maps codec ids to "module:Class"; the first entry is the default encoder and
    every entry can decode. ``media`` names a module with ``open_input(path)`` (a context
    manager yielding the media), ``write(media, path)`` and ``collect(media)``.
    """

    name: str
    description: str
    extensions: tuple[str, ...]
    codecs: dict[str, str]
    media: str

    def media_module(self) -> Any:
        return importlib.import_module(self.media)

    def codec(self, codec_id: str | None = None) -> Codec:
        """Instance of the codec ``codec_id`` (default: the kind's encoder)."""
        if codec_id is None:
            codec_id = next(iter(self.codecs))
        target = self.codecs.get(codec_id)
        if target is None:
            raise BitstreamError(
                f"unknown codec id {codec_id!r} for kind {self.name!r}"
                f" (this build knows {sorted(self.codecs)})"
            )
        module, _, cls = target.partition(":")
        return getattr(importlib.import_module(module), cls)()


KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in (
        KindSpec(
            "raw",
            "any file, stored losslessly as bytes",
            (),
            {"raw-v1": "models.raw.codec:RawCodec"},
            "codec.media.raw",
        ),
        KindSpec(
            "image",
            "photographs (learned lossy codec)",
            (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".webp", ".tif", ".tiff", ".gif"),
            {"image-v1": "models.image.codec:ImageCodec"},
            "codec.media.image",
        ),
        KindSpec(
            "video",
            "video files (neural video representations)",
            (".mp4", ".mkv", ".webm", ".mov", ".avi", ".y4m", ".264", ".h264", ".265", ".hevc")
            + (".i420", ".yuv"),
            {"video-v1": "models.video.codec:VideoCodec"},
            "codec.media.video",
        ),
        KindSpec(
            "audio",
            "audio files (RVQ / FSQ neural audio codec)",
            (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a"),
            {"audio-v1": "models.audio.codec:AudioCodec"},
            "codec.media.audio",
        ),
        KindSpec(
            "lossless",
            "8-bit images and image stacks, lossless (probabilistic circuits)",
            (".npy", "-ubyte", "-ubyte.gz"),
            {"lossless-v1": "models.lossless.codec:LosslessCodec"},
            "codec.media.lossless",
        ),
        KindSpec(
            "checkpoint",
            "neural-network checkpoints (safetensors, torch), lossless or near-lossless",
            (".safetensors", ".pt", ".pth", ".ckpt"),
            {"checkpoint-v1": "models.checkpoint.codec:CheckpointCodec"},
            "codec.media.checkpoint",
        ),
    )
}


def get_kind(name: str) -> KindSpec:
    """The :class:`KindSpec` called ``name``; unknown names raise ``KindNotAvailableError``."""
    spec = KINDS.get(name)
    if spec is None:
        raise KindNotAvailableError(f"unknown kind {name!r}; choose one of {', '.join(KINDS)}")
    return spec

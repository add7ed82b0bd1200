"""The video codec (codec id ``video-v1``): two modes, one container layout.

Input: any :class:`codec.media.video.Video` (RGB frames of any size). Frames are grouped into
segments coded one chunk each, so memory is one segment whatever the duration; every
``key_interval``-th segment (from the first) is a key segment that decodes on its own, the
others may be coded against the segment before (``from_prev``).

**hyper** (default, models/video/hyper.py): segments of ``FRAMES`` (4) frames; the shipped
hypernetwork (models/weights/video-hyper-v1, its id in the header) predicts the weights of a
small conv hyponet per 64x64 patch tubelet, ``--refine N`` fine-tunes them on the content,
and their integers (units of the quality's ``step``) are entropy-coded, a residual segment
as the difference to the previous segment's when that is smaller. ``--quality`` 1..5 picks
the step (:data:`HYPER_STEPS`).

**nerv** (models/video/fit.py): an HNeRV-style network fitted to each segment (at most
``MAX_SEGMENT_FRAMES`` frames and ``MAX_SEGMENT_PIXELS`` pixels); ``--quality`` 1..5 picks
the network size (:data:`QUALITIES`), ``--epochs`` (default 30) and ``--time-limit``
(seconds of fitting for the whole video, shared among segments by frame count; per segment
when the input does not say its frame count) bound the encode time. A residual segment is
fitted from the previous segment's networks and its weight integers coded as differences.
Chunks: a kind byte (0 key, 1 residual) then :func:`models.video.quantize.encode_tensors`
of the decoder's weights (``Decoder.state_dict`` order, one step per tensor) and the
embeddings (one step per channel).

Metadata: ``width``, ``height``, ``fps`` (numerator, denominator), ``frames``,
``segment_frames``, ``key_interval``, ``mode``; nerv adds ``embed`` and ``widths``, hyper
``step``. Decoding is float arithmetic: the bitstream parses identically everywhere
(integers and fixed tables), the pixels are the same for 1 or 2 torch threads on one machine
(one-thread pieces) and may differ by one level between machines with different vector units.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from codec.container import ContainerHeader
from codec.errors import BitstreamError, InvalidParameterError
from codec.media.video import MAX_SIDE, Video, VideoInfo
from codec.registry import Codec, DecodeOptions, Encoded, EncodeOptions
from models.shipped import check_weights
from models.video.hyper_network import FRAMES
from models.video.network import NervConfig

QUALITIES = {
    1: NervConfig(embed=4, widths=(16, 16, 12, 8, 8, 6)),
    2: NervConfig(embed=6, widths=(24, 24, 16, 12, 8, 8)),
    3: NervConfig(embed=8, widths=(32, 32, 24, 16, 12, 8)),
    4: NervConfig(embed=12, widths=(48, 40, 32, 24, 16, 12)),
    5: NervConfig(embed=16, widths=(64, 56, 40, 32, 24, 16)),
}
HYPER_STEPS = {1: 2.8, 2: 2.0, 3: 1.4, 4: 1.0, 5: 0.7}
HYPER_KEY_INTERVAL = 25  # segments: a key segment every 100 frames
MODES = ("hyper", "nerv")
DEFAULT_QUALITY = 3
DEFAULT_EPOCHS = 30
MAX_SEGMENT_PIXELS = 1 << 24
MAX_SEGMENT_FRAMES = 100
MAX_FRAMES = 1 << 24
MAX_WIDTH = 256  # decoder channels, any layer (bitstream check)
KEY_INTERVAL = 8


def segment_frames(width: int, height: int) -> int:
    """Frames per segment for a frame size: as many as fit MAX_SEGMENT_PIXELS (>= 1)."""
    return max(1, min(MAX_SEGMENT_FRAMES, MAX_SEGMENT_PIXELS // (width * height)))


@dataclass(frozen=True)
class _Plan:
    """What an encode does: mode, quality, nerv fitting bounds, hyper refinement steps."""

    mode: str
    quality: int
    epochs: int
    time_limit: float
    refine: int


def _choose(options: EncodeOptions) -> _Plan:
    options.require_only(
        "video codec (it takes --quality, --mode, --epochs, --time-limit, --refine)",
        "quality",
        "mode",
        "epochs",
        "time_limit",
        "refine",
    )
    mode = options.mode or MODES[0]
    if mode not in MODES:
        raise InvalidParameterError(f"video --mode must be hyper or nerv, got {mode!r}")
    if options.device != "cpu":
        raise InvalidParameterError("the video codec runs on the CPU only (--device cpu)")
    quality = DEFAULT_QUALITY if options.quality is None else options.quality
    if quality not in QUALITIES:
        raise InvalidParameterError(f"video --quality must be 1..{len(QUALITIES)}, got {quality}")
    fitting = {"--epochs": options.epochs, "--time-limit": options.time_limit}
    for flag, value in fitting.items():
        if mode == "hyper" and value is not None:
            raise InvalidParameterError(f"{flag} applies to --mode nerv (hyper mode: --refine)")
    if mode == "nerv" and options.refine is not None:
        raise InvalidParameterError("--refine applies to --mode hyper (nerv mode: --epochs)")
    epochs = DEFAULT_EPOCHS if options.epochs is None else options.epochs
    if epochs < 1:
        raise InvalidParameterError(f"--epochs must be >= 1, got {epochs}")
    limit = float("inf") if options.time_limit is None else options.time_limit
    if not limit > 0:
        raise InvalidParameterError(f"--time-limit must be > 0 seconds, got {limit}")
    refine = options.refine_steps()
    return _Plan(mode, quality, epochs, limit, refine)


class VideoCodec(Codec):
    """Neural video codec: ``--mode hyper`` (default, ``--refine``) or ``nerv``
    (``--epochs``, ``--time-limit``); ``--quality`` 1..5."""

    kind = "video"
    codec_id = "video-v1"

    def __init__(self, segment_limit: int | None = None, key_interval: int | None = None) -> None:
        """``segment_limit``: at most this many frames per nerv segment (tools comparing
        segment layouts); ``key_interval``: segments per key segment (1: every segment is a
        key segment; default per mode)."""
        self.segment_limit, self.key_interval = segment_limit, key_interval

    def encode(self, media: Video, options: EncodeOptions) -> Encoded:
        plan = _choose(options)
        info = media.info
        metadata = {
            "width": info.width,
            "height": info.height,
            "fps": (info.fps.numerator, info.fps.denominator),
            "mode": plan.mode,
        }
        if plan.mode == "hyper":
            return self._encode_hyper(media, plan, metadata)
        config = QUALITIES[plan.quality]
        per_segment = segment_frames(info.width, info.height)
        per_segment = min(per_segment, self.segment_limit or per_segment)
        key_interval = self.key_interval or KEY_INTERVAL
        metadata.update(segment_frames=per_segment, key_interval=key_interval)
        metadata.update(embed=config.embed, widths=config.widths)

        def chunks() -> Iterator[bytes]:
            from models.video.fit import fit_segment
            from models.video.quantize import pack_segment

            count, previous = 0, None
            for index, frames in enumerate(media.segments(per_segment)):
                share = len(frames) / info.frames if info.frames else 1.0
                if index % key_interval == 0:
                    previous = None
                limit = plan.time_limit * share
                fitted = fit_segment(
                    frames, config, plan.epochs, limit, options.progress, start=previous
                )
                yield pack_segment(fitted, None if previous is None else previous.integers)
                previous = fitted
                count += len(frames)
            metadata["frames"] = _frame_count(count)

        return Encoded(chunks(), metadata)

    def _encode_hyper(self, media: Video, plan: _Plan, metadata: dict) -> Encoded:
        from models.video.hyper import SegmentCoder
        from models.video.hyper_weights import load_weights

        shipped = load_weights()
        step = HYPER_STEPS[plan.quality]
        key_interval = self.key_interval or HYPER_KEY_INTERVAL
        metadata.update(segment_frames=FRAMES, key_interval=key_interval, step=step)

        def chunks() -> Iterator[bytes]:
            coder = SegmentCoder(shipped, step, plan.refine, key_interval)
            count = 0
            for frames in media.segments(FRAMES):
                yield coder.chunk(frames)
                count += len(frames)
            metadata["frames"] = _frame_count(count)

        return Encoded(chunks(), metadata, shipped.weights_id)

    def decode(
        self, header: ContainerHeader, chunks: Iterator[bytes], options: DecodeOptions
    ) -> Video:
        meta = _checked(header)
        width, height, frames = meta["width"], meta["height"], meta["frames"]
        if meta["mode"] == "hyper":
            from models.video.hyper import SegmentRenderer as HyperRenderer
            from models.video.hyper_weights import load_weights

            shipped = load_weights()
            check_weights(header.weights_id, shipped.weights_id)
            renderer = HyperRenderer(shipped, meta["step"], height, width)
        else:
            from models.video.render import SegmentRenderer

            config = NervConfig(embed=meta["embed"], widths=tuple(meta["widths"]))
            renderer = SegmentRenderer(config, height, width)
        per_segment = meta["segment_frames"]
        expected = -(-frames // per_segment)
        if len(header.chunks) != expected:
            raise BitstreamError(f"video file needs {expected} chunks, has {len(header.chunks)}")

        def decoded() -> Iterator[np.ndarray]:
            index = -1
            for index, chunk in enumerate(chunks):
                count = min(per_segment, frames - index * per_segment)
                yield from renderer.frames(chunk, count)
            if index < 0:
                raise BitstreamError("no intact video segment to decode")

        fps = Fraction(*meta["fps"])
        return Video(VideoInfo(width, height, fps, None if options.salvage else frames), decoded())


def _frame_count(count: int) -> int:
    if not count:
        raise InvalidParameterError("the video has no frames")
    return count


def _checked(header: ContainerHeader) -> dict:
    meta = header.metadata
    keys = ("width", "height", "frames", "segment_frames", "key_interval")
    if not all(isinstance(meta.get(k), int) for k in keys) or meta.get("mode") not in MODES:
        raise BitstreamError("video header needs integer " + ", ".join(keys) + " and a mode")
    fps = meta.get("fps")
    if not (isinstance(fps, tuple) and len(fps) == 2 and fps[0] > 0 and fps[1] > 0):
        raise BitstreamError(f"video header: bad frame rate {fps!r}")
    if not (1 <= meta["width"] <= MAX_SIDE and 1 <= meta["height"] <= MAX_SIDE):
        raise BitstreamError(f"video header: frame size {meta['width']}x{meta['height']}")
    if not (1 <= meta["frames"] <= MAX_FRAMES and 1 <= meta["segment_frames"] <= MAX_FRAMES):
        raise BitstreamError(
            f"video header: {meta['frames']} frames in segments of {meta['segment_frames']}"
        )
    if meta["key_interval"] < 1:
        raise BitstreamError(f"video header: key interval {meta['key_interval']}")
    if meta["mode"] == "hyper":
        step = meta.get("step")
        if not (isinstance(step, float) and 1e-3 <= step <= 1e3):
            raise BitstreamError(f"video header: bad quantization step {step!r}")
        if meta["segment_frames"] != FRAMES:
            raise BitstreamError(f"video header: hyper segments of {meta['segment_frames']}")
        return meta
    widths, embed = meta.get("widths"), meta.get("embed")
    channels = (*widths, embed) if isinstance(widths, tuple) else ()
    if len(channels) != 7 or not all(isinstance(c, int) and 1 <= c <= MAX_WIDTH for c in channels):
        raise BitstreamError(f"video header: bad network widths {widths!r} / {embed!r}")
    if meta["segment_frames"] > segment_frames(meta["width"], meta["height"]):
        raise BitstreamError(f"video header: segments of {meta['segment_frames']} frames")
    return meta

"""The video codec (codec id ``video-v1``), nerv mode: an HNeRV-style network fitted to each
segment of the video, its decoder weights and frame embeddings quantized and entropy-coded.

Input: any :class:`codec.media.video.Video` (RGB frames of any size). Frames are grouped into
segments of at most ``segment_frames`` frames (``MAX_SEGMENT_PIXELS`` pixels, at most
``MAX_SEGMENT_FRAMES`` frames), each fitted on its own (models/video/fit.py), so memory is
one segment whatever the duration and a decoder can start at any segment.

``--quality`` 1..5 picks the network size (:data:`QUALITIES`: embedding channels and decoder
widths), which sets the rate; ``--epochs`` (default 60) and ``--time-limit`` (seconds of
fitting for the whole video, shared among segments by frame count; per segment when the
input does not say its frame count) bound the encode time.

Every ``key_interval``-th segment (from the first) is a key segment, fitted from scratch; the
others are residual segments, fitted from the previous segment's networks, their weight
integers coded as differences to the previous segment's (``from_prev``): a decoder can start
at any key segment.

Chunks: one per segment, a kind byte (0 key, 1 residual) then
:func:`models.video.quantize.encode_tensors` of the decoder's weights (``Decoder.state_dict``
order, one step per tensor) and the embeddings (one step per channel). Metadata: ``width``,
``height``, ``fps`` (numerator, denominator), ``frames``, ``segment_frames``,
``key_interval``, ``mode``, ``embed``, ``widths``. Decoding is float arithmetic: the
bitstream parses identically everywhere (integers and fixed tables), the pixels are the same
for 1 or 2 torch threads on one machine (one-thread pieces) and may differ by one level
between machines with different vector units.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from codec.container import ContainerHeader
from codec.errors import BitstreamError, InvalidParameterError
from codec.media.video import MAX_SIDE, Video, VideoInfo
from codec.registry import Codec, DecodeOptions, Encoded, EncodeOptions
from models.video.network import NervConfig

QUALITIES = {
    1: NervConfig(embed=4, widths=(16, 16, 12, 8, 8, 6)),
    2: NervConfig(embed=6, widths=(24, 24, 16, 12, 8, 8)),
    3: NervConfig(embed=8, widths=(32, 32, 24, 16, 12, 8)),
    4: NervConfig(embed=12, widths=(48, 40, 32, 24, 16, 12)),
    5: NervConfig(embed=16, widths=(64, 56, 40, 32, 24, 16)),
}
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


def _choose(options: EncodeOptions) -> tuple[NervConfig, int, float]:
    """(network config, epochs, time limit in seconds) from the options."""
    options.require_only(
        "video codec (it takes --quality, --mode, --epochs, --time-limit)",
        "quality",
        "mode",
        "epochs",
        "time_limit",
    )
    if (options.mode or "nerv") != "nerv":
        raise InvalidParameterError(
            f"video --mode {options.mode!r}: this version has the nerv mode only"
        )
    if options.device != "cpu":
        raise InvalidParameterError("the video codec runs on the CPU only (--device cpu)")
    quality = DEFAULT_QUALITY if options.quality is None else options.quality
    if quality not in QUALITIES:
        raise InvalidParameterError(f"video --quality must be 1..{len(QUALITIES)}, got {quality}")
    epochs = DEFAULT_EPOCHS if options.epochs is None else options.epochs
    if epochs < 1:
        raise InvalidParameterError(f"--epochs must be >= 1, got {epochs}")
    limit = float("inf") if options.time_limit is None else options.time_limit
    if not limit > 0:
        raise InvalidParameterError(f"--time-limit must be > 0 seconds, got {limit}")
    return QUALITIES[quality], epochs, limit


class VideoCodec(Codec):
    """Neural video codec (nerv mode); ``--quality`` 1..5, ``--epochs``, ``--time-limit``."""

    kind = "video"
    codec_id = "video-v1"

    def __init__(self, segment_limit: int | None = None, key_interval: int = KEY_INTERVAL) -> None:
        """``segment_limit``: at most this many frames per segment (tools comparing segment
        layouts); ``key_interval``: 1 codes every segment as a key segment."""
        self.segment_limit, self.key_interval = segment_limit, key_interval

    def encode(self, media: Video, options: EncodeOptions) -> Encoded:
        config, epochs, limit = _choose(options)
        info = media.info
        per_segment = segment_frames(info.width, info.height)
        per_segment = min(per_segment, self.segment_limit or per_segment)
        metadata = {
            "width": info.width,
            "height": info.height,
            "fps": (info.fps.numerator, info.fps.denominator),
            "segment_frames": per_segment,
            "key_interval": self.key_interval,
            "mode": "nerv",
            "embed": config.embed,
            "widths": config.widths,
        }

        def chunks() -> Iterator[bytes]:
            from models.video.fit import fit_segment
            from models.video.quantize import pack_segment

            count, previous = 0, None
            for index, frames in enumerate(media.segments(per_segment)):
                share = len(frames) / info.frames if info.frames else 1.0
                if index % self.key_interval == 0:
                    previous = None
                fitted = fit_segment(
                    frames, config, epochs, limit * share, options.progress, start=previous
                )
                yield pack_segment(fitted, None if previous is None else previous.integers)
                previous = fitted
                count += len(frames)
            if not count:
                raise InvalidParameterError("the video has no frames")
            metadata["frames"] = count

        return Encoded(chunks(), metadata)

    def decode(
        self, header: ContainerHeader, chunks: Iterator[bytes], options: DecodeOptions
    ) -> Video:
        from models.video.render import SegmentRenderer

        meta = _checked(header)
        config = NervConfig(embed=meta["embed"], widths=tuple(meta["widths"]))
        width, height, frames = meta["width"], meta["height"], meta["frames"]
        per_segment = meta["segment_frames"]
        expected = -(-frames // per_segment)
        if len(header.chunks) != expected:
            raise BitstreamError(f"video file needs {expected} chunks, has {len(header.chunks)}")

        def decoded() -> Iterator[np.ndarray]:
            renderer = SegmentRenderer(config, height, width)
            index = -1
            for index, chunk in enumerate(chunks):
                count = min(per_segment, frames - index * per_segment)
                yield from renderer.frames(chunk, count)
            if index < 0:
                raise BitstreamError("no intact video segment to decode")

        fps = Fraction(*meta["fps"])
        return Video(VideoInfo(width, height, fps, None if options.salvage else frames), decoded())


def _checked(header: ContainerHeader) -> dict:
    meta = header.metadata
    keys = ("width", "height", "frames", "segment_frames", "key_interval", "embed")
    if not all(isinstance(meta.get(k), int) for k in keys) or meta.get("mode") != "nerv":
        raise BitstreamError("video header needs integer " + ", ".join(keys) + " and mode nerv")
    fps, widths = meta.get("fps"), meta.get("widths")
    if not (isinstance(fps, tuple) and len(fps) == 2 and fps[0] > 0 and fps[1] > 0):
        raise BitstreamError(f"video header: bad frame rate {fps!r}")
    channels = (*widths, meta["embed"]) if isinstance(widths, tuple) else ()
    if len(channels) != 7 or not all(isinstance(c, int) and 1 <= c <= MAX_WIDTH for c in channels):
        raise BitstreamError(f"video header: bad network widths {widths!r} / {meta['embed']}")
    if not (1 <= meta["width"] <= MAX_SIDE and 1 <= meta["height"] <= MAX_SIDE):
        raise BitstreamError(f"video header: frame size {meta['width']}x{meta['height']}")
    if not (1 <= meta["frames"] <= MAX_FRAMES and 1 <= meta["segment_frames"] <= MAX_FRAMES):
        raise BitstreamError(
            f"video header: {meta['frames']} frames in segments of {meta['segment_frames']}"
        )
    if meta["key_interval"] < 1:
        raise BitstreamError(f"video header: key interval {meta['key_interval']}")
    if meta["segment_frames"] > segment_frames(meta["width"], meta["height"]):
        raise BitstreamError(f"video header: segments of {meta['segment_frames']} frames")
    return meta

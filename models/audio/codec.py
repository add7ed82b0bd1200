"""The audio codec (codec id ``audio-v1``): causal conv encoder/decoder, RVQ or FSQ codes,
learned context prior, streamed in 10-second segments.

Input: any :class:`codec.media.audio.Audio` (1-2 channels, 8-192 kHz). It is resampled to
24 kHz; stereo is coded as mid (L+R)/2 and side (L-R)/2, each through the same mono model at
the chosen bitrate. The side is band-limited to 6 kHz and coded at 12 kHz
(``side_decimation`` 2, :mod:`models.audio.halfrate`): half the frames, so a stereo file
costs up to 1.5 times the mono rate and work. The side's two filters delay it by
``halfrate.DELAY`` samples, so the mid is coded that much late too and the decoder drops
that many samples at the start. A segment whose side is more than 30 dB below its mid (RMS;
nearly mono recordings) codes the mid only and decodes the side as silence: at these rates
the codec's own error on the mid is far larger than such a side. Files without
``side_decimation`` (written before it existed) code the side at 24 kHz, with no delay, and
still decode. The decoder restores the input's rate, channel count and exact sample count.

Modes (``--mode``): ``rvq`` (default; ``--bitrate`` 1.5, 3, 4.5 or 6 kbps = 2/4/6/8
codebook levels, default 6) and ``fsq`` (8 groups of levels [8,5,5,5]: 5.98 kbps nominal).
Those are nominal rates (fixed-length codes at 75 frames/s); the learned prior codes them in
fewer bits (docs/audio.md).

Chunks: one per segment of ``segment_frames`` frames (the last one shorter); each holds, per
channel, one range-coded stream of that segment's codes (the side's: ceil(frames / 2) at
12 kHz), the streams preceded by their byte lengths (u32 little-endian, all but the last);
an empty side stream is a skipped side. Metadata: ``sample_rate``, ``channels``, ``samples``
(per channel at the input rate), ``frames`` (of the mid, at 75/s), ``mode``, ``streams``
(code streams per frame), ``segment_frames``, and for stereo ``side_decimation`` (2).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np

from codec.container import ContainerHeader
from codec.errors import BitstreamError, InvalidParameterError
from codec.media.audio import RATES, Audio, AudioInfo
from codec.registry import Codec, DecodeOptions, Encoded, EncodeOptions
from entropy import StreamKind, SymbolDecoder, SymbolEncoder
from models.audio import halfrate
from models.audio.network import SAMPLE_RATE
from models.shipped import check_weights

SEGMENT_FRAMES = 750  # 10 s
RVQ_LEVELS = {1.5: 2, 3.0: 4, 4.5: 6, 6.0: 8}
FSQ_KBPS = 6.0
MAX_FRAMES = 75 * 3600 * 24  # one day
SIDE_DECIMATION = 2  # stereo side coded at 24 kHz / 2 (models/audio/halfrate.py)
QUIET_SIDE = 10 ** (-30 / 20)  # side/mid RMS ratio below which the side is not coded


def _weights():
    from models.audio.weights import load_weights

    return load_weights()


def _choose(options: EncodeOptions) -> tuple[str, int]:
    """(mode, code streams per frame) from ``--mode`` / ``--bitrate``."""
    mode = options.mode or "rvq"
    rate = options.bitrate_kbps
    if mode == "rvq":
        levels = RVQ_LEVELS.get(6.0 if rate is None else rate)
        if levels is None:
            raise InvalidParameterError(
                f"audio rvq bitrates are {', '.join(map(str, RVQ_LEVELS))} kbps, got {rate}"
            )
        return mode, levels
    if mode == "fsq":
        if rate not in (None, FSQ_KBPS):
            raise InvalidParameterError(f"audio fsq codes at {FSQ_KBPS} kbps only, got {rate}")
        return mode, 0
    raise InvalidParameterError(f"audio --mode is rvq or fsq, got {mode!r}")


def _to_mid_side(block: np.ndarray) -> np.ndarray:
    return block if block.shape[0] == 1 else np.stack([block.sum(0) / 2, (block[0] - block[1]) / 2])


def _mid_delayed(mid_side: Iterator[np.ndarray], delay: int) -> Iterator[np.ndarray]:
    """(2, n) mid/side blocks with the mid ``delay`` samples late (zeros first), then
    ``delay`` more samples (the held mid, zero side) that flush the side's filters."""
    held = np.zeros(delay, dtype=np.float32)
    for block in mid_side:
        mid = np.concatenate([held, block[0]])
        held = mid[block.shape[1] :]
        yield np.stack([mid[: block.shape[1]], block[1]])
    yield np.stack([held, np.zeros(delay, dtype=np.float32)])


def _dropped(blocks: Iterator[np.ndarray], count: int) -> Iterator[np.ndarray]:
    """``blocks`` without their first ``count`` samples."""
    for block in blocks:
        cut = min(count, block.shape[1])
        count -= cut
        if cut < block.shape[1]:
            yield block[:, cut:]


def _side_is_quiet(mid_side: np.ndarray) -> bool:
    """True when a (2, L) mid/side segment's side RMS is below QUIET_SIDE times its mid's."""
    energy = np.square(mid_side, dtype=np.float64).sum(axis=1)
    return bool(energy[1] < QUIET_SIDE**2 * energy[0]) or not energy[1]


def _from_mid_side(block: np.ndarray) -> np.ndarray:
    return block if block.shape[0] == 1 else np.stack([block[0] + block[1], block[0] - block[1]])


class _Counted:
    """Wraps a block generator and counts its samples per channel."""

    def __init__(self, blocks: Iterator[np.ndarray]) -> None:
        self.blocks, self.count = blocks, 0

    def __iter__(self) -> Iterator[np.ndarray]:
        for block in self.blocks:
            self.count += block.shape[1]
            yield block


def _pack(streams: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(s)) for s in streams[:-1]) + b"".join(streams)


def _unpack(chunk: bytes, count: int) -> list[bytes]:
    head = 4 * (count - 1)
    if len(chunk) < head:
        raise BitstreamError("audio chunk too short")
    lengths = struct.unpack(f"<{count - 1}I", chunk[:head])
    if sum(lengths) > len(chunk) - head:
        raise BitstreamError("audio chunk lengths exceed the chunk")
    bounds = np.cumsum([head, *lengths, len(chunk) - head - sum(lengths)])
    return [chunk[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


class AudioCodec(Codec):
    """Neural audio codec; ``--mode rvq|fsq``, ``--bitrate`` in kbps (rvq: 1.5/3/4.5/6)."""

    kind = "audio"
    codec_id = "audio-v1"

    def encode(self, media: Audio, options: EncodeOptions) -> Encoded:
        from models.audio.streaming import SegmentEncoder, rechunk

        options.require_only("audio codec", "bitrate_kbps", "mode")
        if options.device != "cpu":
            raise InvalidParameterError("the audio codec runs on the CPU only (--device cpu)")
        mode, streams = _choose(options)
        shipped = _weights()
        net = shipped.network
        prior = shipped.priors[mode]
        streams = streams or len(net.alphabet(mode))
        info = media.info
        metadata = {
            "sample_rate": info.sample_rate,
            "channels": info.channels,
            "mode": mode,
            "streams": streams,
            "segment_frames": SEGMENT_FRAMES,
        }
        if info.channels == 2:
            metadata["side_decimation"] = SIDE_DECIMATION

        def chunks() -> Iterator[bytes]:
            counted = _Counted(media.blocks())
            source = Audio(info, iter(counted)).resampled(SAMPLE_RATE, info.channels)
            source = map(_to_mid_side, source)
            if info.channels == 2:
                source = _mid_delayed(source, halfrate.DELAY)
            coders = [SegmentEncoder(net, mode, streams) for _ in range(info.channels)]
            decimate = halfrate.Decimator()
            for mid_side in rechunk(source, SEGMENT_FRAMES * net.hop):
                payload = []
                for channel, coder in enumerate(coders):
                    wave = mid_side[channel : channel + 1]
                    if channel:
                        wave = decimate(wave[0])[None]
                        if _side_is_quiet(mid_side):
                            coder.skip(wave)
                            payload.append(b"")
                            continue
                    encoder = SymbolEncoder(StreamKind.RANGE)
                    prior.encode(encoder, coder.codes(wave)[0])
                    payload.append(encoder.to_bytes())
                yield _pack(payload)
            metadata["samples"] = counted.count
            metadata["frames"] = coders[0].frames

        return Encoded(chunks(), metadata, shipped.weights_id)

    def decode(
        self, header: ContainerHeader, chunks: Iterator[bytes], options: DecodeOptions
    ) -> Audio:
        from models.audio.streaming import SegmentDecoder

        shipped = _weights()
        check_weights(header.weights_id, shipped.weights_id)
        net = shipped.network
        meta = _checked(header, net.hop)
        mode, streams, channels = meta["mode"], meta["streams"], meta["channels"]
        if streams > len(net.alphabet(mode)) or (
            mode == "fsq" and streams != len(net.alphabet(mode))
        ):
            raise BitstreamError(f"audio header: {streams} code streams for mode {mode}")
        prior = shipped.priors[mode]
        frames, segment = meta["frames"], meta["segment_frames"]
        expected = -(-frames // segment)
        if len(header.chunks) != expected:
            raise BitstreamError(f"audio file needs {expected} chunks, has {len(header.chunks)}")

        decimation = meta.get("side_decimation", 1)

        def blocks() -> Iterator[np.ndarray]:
            coders = [SegmentDecoder(net, mode) for _ in range(channels)]
            interpolate = halfrate.Interpolator()
            for index, chunk in enumerate(chunks):
                n = min(segment, frames - index * segment)
                waves = []
                for channel, data in enumerate(_unpack(chunk, channels)):
                    m = -(-n // decimation) if channel else n
                    if channel and not data:
                        wave = coders[channel].silence(1, m)
                    else:
                        decoder = SymbolDecoder(data, StreamKind.RANGE)
                        codes = prior.decode(decoder, m, streams)
                        decoder.finish()
                        wave = coders[channel].samples(codes[None])
                    if channel and decimation == SIDE_DECIMATION:
                        wave = interpolate(wave[0])[None, : n * net.hop]
                    waves.append(wave)
                yield _from_mid_side(np.concatenate(waves))

        delay = halfrate.DELAY if decimation == SIDE_DECIMATION else 0
        at_24k = Audio(AudioInfo(SAMPLE_RATE, channels, None), _dropped(blocks(), delay))
        rate = meta["sample_rate"]
        info = AudioInfo(rate, channels, meta["samples"])
        return Audio(info, _exactly(at_24k.resampled(rate, channels), meta["samples"], channels))


def _exactly(blocks: Iterator[np.ndarray], samples: int, channels: int) -> Iterator[np.ndarray]:
    """The first ``samples`` samples of ``blocks``, zero-padded if they fall short."""
    left = samples
    for block in blocks:
        if left <= 0:
            break
        out = block[:, :left]
        left -= out.shape[1]
        yield out
    if left > 0:
        yield np.zeros((channels, left), dtype=np.float32)


def _checked(header: ContainerHeader, hop: int) -> dict:
    meta = header.metadata
    keys = ("sample_rate", "channels", "samples", "frames", "streams", "segment_frames")
    if not all(isinstance(meta.get(k), int) for k in keys) or meta.get("mode") not in (
        "rvq",
        "fsq",
    ):
        raise BitstreamError("audio header needs integer " + ", ".join(keys) + " and a mode")
    if meta["sample_rate"] not in RATES or meta["channels"] not in (1, 2):
        raise BitstreamError(
            f"audio header: {meta['channels']} channels at {meta['sample_rate']} Hz"
        )
    decimation = meta.get("side_decimation", 1)
    if type(decimation) is not int or decimation not in (1, meta["channels"]):
        raise BitstreamError(f"audio header: side_decimation {decimation!r}")
    frames, segment = meta["frames"], meta["segment_frames"]
    if not 0 <= frames <= MAX_FRAMES or not 1 <= segment <= MAX_FRAMES or meta["streams"] < 1:
        raise BitstreamError(f"audio header: {frames} frames in segments of {segment}")
    limit = (frames + 1) * hop * meta["sample_rate"] // SAMPLE_RATE + meta["sample_rate"]
    if not 0 <= meta["samples"] <= limit:
        raise BitstreamError(f"audio header: {meta['samples']} samples for {frames} frames")
    return meta

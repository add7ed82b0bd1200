"""Audio files <-> streams of float32 sample blocks, through PyAV (FFmpeg).

Inputs: anything PyAV decodes (wav, flac, ogg/opus/vorbis, mp3, m4a/aac, ...). Blocks are
(C, n) float32 arrays in [-1, 1] at the file's own sample rate, decoded lazily so memory does
not grow with duration. :meth:`Audio.resampled` streams the same audio at another rate and
channel layout (FFmpeg's resampler, stateful across blocks: no seams at block boundaries).

Outputs, by name: ``.wav`` (16-bit PCM) and ``.flac`` (16-bit, lossless), at the audio's
rate and channel count; samples are rounded and clipped to 16 bits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codec.errors import InputError
from codec.media.avstream import open_first_stream

MAX_CHANNELS = 2
RATES = range(8000, 192001)
_LAYOUTS = {1: "mono", 2: "stereo"}
_OUTPUTS = {".wav": ("wav", "pcm_s16le", "s16"), ".flac": ("flac", "flac", "s16")}

Blocks = Generator[np.ndarray, None, None]


@dataclass(frozen=True)
class AudioInfo:
    """Sample rate in Hz, channels, and samples per channel when the input says (else None)."""

    sample_rate: int
    channels: int
    samples: int | None


class Audio:
    """``info`` + a generator of (C, n) float32 blocks. Iterate once."""

    def __init__(self, info: AudioInfo, blocks: Blocks) -> None:
        self.info = info
        self._blocks = blocks

    def blocks(self) -> Blocks:
        return self._blocks

    def resampled(self, rate: int, channels: int) -> Blocks:
        """The blocks at ``rate`` Hz with ``channels`` channels (1 = mono downmix)."""
        import av

        resampler = av.AudioResampler(format="fltp", layout=_LAYOUTS[channels], rate=rate)
        layout = _LAYOUTS[self.info.channels]
        for block in self._blocks:
            if not block.shape[1]:
                continue  # FFmpeg rejects empty frames
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block), format="fltp", layout=layout
            )
            frame.sample_rate = self.info.sample_rate
            for out in resampler.resample(frame):
                yield out.to_ndarray()
        for out in resampler.resample(None):
            yield out.to_ndarray()


def _decoded_blocks(path: Path, container, stream) -> Blocks:
    import av

    layout = _LAYOUTS[stream.codec_context.channels]
    converter = av.AudioResampler(
        format="fltp", layout=layout, rate=stream.codec_context.sample_rate
    )
    with container:
        try:
            for frame in container.decode(stream):
                for out in converter.resample(frame):
                    yield out.to_ndarray()
            for out in converter.resample(None):
                yield out.to_ndarray()
        except av.FFmpegError as exc:
            raise InputError(f"{path}: audio data is corrupt ({exc})") from None


@contextlib.contextmanager
def open_input(path: Path) -> Iterator[Audio]:
    """Context manager yielding the :class:`Audio` of ``path``; the demuxer is closed when the
    context ends, even if not all blocks were read."""
    container, stream = open_first_stream(path, "audio", "audio file")
    rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
    if rate not in RATES or not 1 <= channels <= MAX_CHANNELS:
        container.close()
        raise InputError(
            f"{path}: {channels} channels at {rate} Hz; supported: 1-2 channels, 8-192 kHz"
        )
    samples = None
    if stream.duration is not None and stream.time_base is not None:
        samples = round(stream.duration * stream.time_base * rate)
    audio = Audio(AudioInfo(rate, channels, samples), _decoded_blocks(path, container, stream))
    try:
        yield audio
    finally:
        audio.blocks().close()


def write(audio: Audio, path: Path) -> None:
    """Write ``audio`` as 16-bit wav or flac (by the name's suffix)."""
    import av

    choice = _OUTPUTS.get(path.suffix.lower())
    if choice is None:
        raise InputError(f"unsupported audio output {path.suffix!r}: use .wav or .flac")
    fmt, codec_name, sample_format = choice
    rate, layout = audio.info.sample_rate, _LAYOUTS[audio.info.channels]
    with av.open(str(path), mode="w", format=fmt) as container:
        stream = container.add_stream(codec_name, rate=rate, layout=layout)
        stream.format = sample_format
        for block in audio.blocks():
            pcm = np.clip(np.round(block * 32768.0), -32768, 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(pcm.T.reshape(1, -1), format="s16", layout=layout)
            frame.sample_rate = rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def collect(audio: Audio) -> Audio:
    """In-memory result of a decode: all samples decoded now, as one (C, n) block (so that
    corrupt data fails inside ``codec.decode``)."""
    blocks = list(audio.blocks())
    channels = audio.info.channels
    samples = np.concatenate(blocks, axis=1) if blocks else np.zeros((channels, 0), np.float32)
    return Audio(audio.info, (b for b in [samples]))

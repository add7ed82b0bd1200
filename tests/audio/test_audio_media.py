"""Audio media I/O (groundwork of the audio kind): every file of the data folder, other
containers made on the fly, exact 16-bit wav/flac output, streaming resampling."""

from __future__ import annotations

import numpy as np
import pytest

from codec.errors import InputError
from codec.media.audio import Audio, AudioInfo, open_input, write


def audio_of(samples: np.ndarray, rate: int) -> Audio:
    blocks = (samples[:, i : i + 1000] for i in range(0, samples.shape[1], 1000))
    return Audio(AudioInfo(rate, samples.shape[0], samples.shape[1]), blocks)


def tone(channels: int, rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    waves = [0.5 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)]
    return (np.round(np.stack(waves) * 32768) / 32768).astype(np.float32)  # 16-bit exact


def test_reads_every_file_of_the_data_folder(shared_data):
    files = sorted((shared_data / "audio").glob("*/*"))
    assert len(files) >= 10
    for path in files:
        with open_input(path) as audio:
            samples = np.concatenate(list(audio.blocks()), axis=1)
        assert samples.dtype == np.float32 and samples.shape[0] == audio.info.channels
        assert samples.shape[1] == audio.info.samples and 0 < np.abs(samples).max() <= 1


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
@pytest.mark.parametrize(("channels", "rate", "seconds"), [(1, 8000, 0.1), (2, 48000, 1.3)])
def test_pcm_outputs_round_trip_exactly(tmp_path, suffix, channels, rate, seconds):
    samples = tone(channels, rate, seconds)
    write(audio_of(samples, rate), tmp_path / f"out{suffix}")
    with open_input(tmp_path / f"out{suffix}") as back:
        assert (back.info.sample_rate, back.info.channels) == (rate, channels)
        decoded = np.concatenate(list(back.blocks()), axis=1)
    assert np.array_equal(decoded, samples)


@pytest.mark.parametrize(("suffix", "codec_name"), [(".ogg", "libopus"), (".m4a", "aac")])
def test_lossy_containers_decode(tmp_path, suffix, codec_name):
    import av

    samples = tone(2, 48000, 0.5)
    path = tmp_path / f"in{suffix}"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec_name, rate=48000, layout="stereo")
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
        frame.sample_rate = 48000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with open_input(path) as audio:
        decoded = np.concatenate(list(audio.blocks()), axis=1)
    assert audio.info.channels == 2 and abs(decoded.shape[1] - samples.shape[1]) < 3000
    rms = np.sqrt(np.mean(decoded[:, 4000:-4000] ** 2))
    assert abs(rms - 0.5 / np.sqrt(2)) < 0.05  # the tone's level survives the lossy codec


def test_resampling_streams_without_seams():
    samples = tone(2, 44100, 2.0)
    whole = np.concatenate(list(audio_of(samples, 44100).resampled(24000, 1)), axis=1)
    assert whole.shape[0] == 1 and abs(whole.shape[1] - 48000) <= 64
    # a pure tone stays a pure tone: no clicks where the 1000-sample blocks meet
    steps = np.abs(np.diff(whole[0, 100:-100]))
    assert steps.max() < 0.1


def test_clear_errors(tmp_path):
    (tmp_path / "notes.wav").write_bytes(b"RIFF but not really")
    with (
        pytest.raises(InputError, match="not a readable audio"),
        open_input(tmp_path / "notes.wav"),
    ):
        pass
    with pytest.raises(InputError, match="unsupported audio output"):
        write(audio_of(tone(1, 8000, 0.1), 8000), tmp_path / "out.mp3")

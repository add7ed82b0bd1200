"""The audio codec (audio-v1) with the shipped weights: round trips through files of every
input format, rates and channel counts, streaming equivalence, the code prior, bad options
and corrupt files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import codec
from codec.errors import BitstreamError, InvalidParameterError
from codec.media.audio import Audio, AudioInfo, open_input
from entropy import StreamKind, SymbolDecoder, SymbolEncoder
from models.audio.network import SAMPLE_RATE, AudioConfig, AudioNetwork
from models.audio.prior import fit_prior
from models.audio.streaming import SegmentDecoder, SegmentEncoder, rechunk
from models.audio.weights import load_weights
from tests.conftest import ROOT


def speech(shared_data, rate: int, channels: int, seconds: float) -> np.ndarray:
    """Real speech (shared/data/audio/train) at ``rate`` Hz, (channels, n) float32."""
    with open_input(shared_data / "audio/train/spk1_snt1.wav") as audio:
        mono = np.concatenate(list(audio.resampled(rate, 1)), axis=1)[0]
    mono = mono[: int(rate * seconds)]
    # second channel: the same speech, delayed and quieter (a real stereo image)
    return np.stack([mono, 0.5 * np.roll(mono, 37)][:channels]).astype(np.float32)


def write_input(path, samples: np.ndarray, rate: int) -> None:
    """Write (C, n) float samples with PyAV in the container/codec the suffix implies."""
    import av

    codecs = {".wav": "pcm_s16le", ".flac": "flac", ".mp3": "libmp3lame", ".ogg": "libopus"}
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codecs[path.suffix], rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
        frame.sample_rate = rate
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def envelope_correlation(a: np.ndarray, b: np.ndarray, rate: int) -> float:
    """Correlation of the log energy of 20 ms frames (all channels): does the decoded audio
    follow the input's loudness over time (phase plays no part). A sanity check that the
    content gets through (an unrelated signal scores about 0, an untrained model 0.02);
    quality is measured by tools/eval_audio.py."""
    step = rate // 50
    n = min(a.shape[1], b.shape[1]) // step * step
    a_env, b_env = (
        np.log(np.mean(x[:, :n].reshape(x.shape[0], -1, step) ** 2, axis=2) + 1e-5).ravel()
        for x in (a, b)
    )
    return float(np.corrcoef(a_env, b_env)[0, 1])


@pytest.mark.parametrize(
    ("suffix", "rate", "channels", "seconds"),
    [
        (".wav", 16000, 1, 2.0),
        (".flac", 32000, 2, 1.0),
        (".mp3", 44100, 2, 1.0),
        (".ogg", 48000, 2, 1.0),
        (".wav", 8000, 1, 0.1),
        (".wav", 22050, 2, 0.1),
    ],
)
def test_file_round_trip_restores_rate_channels_and_length(
    tmp_path, shared_data, suffix, rate, channels, seconds
):
    src = tmp_path / f"in{suffix}"
    write_input(src, speech(shared_data, rate, channels, seconds), rate)
    with open_input(src) as audio:
        original = np.concatenate(list(audio.blocks()), axis=1)
    codec.encode_file(src, tmp_path / "a.bin", bitrate=6)
    codec.decode_file(tmp_path / "a.bin", tmp_path / "out.wav")
    with open_input(tmp_path / "out.wav") as out:
        assert (out.info.sample_rate, out.info.channels) == (rate, channels)
        decoded = np.concatenate(list(out.blocks()), axis=1)
    assert decoded.shape == original.shape
    if seconds >= 1:  # long enough to judge
        assert envelope_correlation(decoded, original, rate) > 0.5


def test_stereo_over_several_segments_keeps_length_and_content(shared_data):
    """21 s of stereo: three segments (the last one holds the side filters' flush), the
    side at 12 kHz across segment boundaries."""
    samples = np.tile(speech(shared_data, SAMPLE_RATE, 2, 3.0), 7)
    audio = Audio(AudioInfo(SAMPLE_RATE, 2, samples.shape[1]), iter([samples]))
    decoded = codec.decode(codec.encode(audio, kind="audio"))
    assert len(decoded.header.chunks) == 3
    out = np.concatenate(list(decoded.media.blocks()), axis=1)
    assert out.shape == samples.shape
    assert envelope_correlation(out, samples, SAMPLE_RATE) > 0.5


@pytest.mark.parametrize(("mode", "bitrate"), [("rvq", 1.5), ("rvq", 3), ("fsq", None)])
def test_modes_and_bitrates_in_memory(shared_data, mode, bitrate):
    samples = speech(shared_data, SAMPLE_RATE, 1, 1.5)
    audio = Audio(AudioInfo(SAMPLE_RATE, 1, samples.shape[1]), iter([samples]))
    blob = codec.encode(audio, kind="audio", mode=mode, bitrate=bitrate)
    decoded = codec.decode(blob)
    assert decoded.header.metadata["mode"] == mode
    out = np.concatenate(list(decoded.media.blocks()), axis=1)
    assert out.shape == samples.shape and envelope_correlation(out, samples, SAMPLE_RATE) > 0.5
    payload = sum(chunk.length for chunk in decoded.header.chunks)
    assert payload < (bitrate or 6) * 1000 * 1.5 / 8  # the learned prior: below nominal


def test_nearly_mono_stereo_codes_the_mid_only(shared_data):
    """A side 40 dB below the mid is skipped (empty side stream, the decoded channels are
    equal); a real stereo image (the delayed second channel) codes both."""
    from codec.container import ContainerReader
    from models.audio.codec import _unpack

    left = speech(shared_data, SAMPLE_RATE, 1, 1.5)[0]
    sizes = {}
    for name, right in (("near mono", 0.98 * left), ("wide", 0.5 * np.roll(left, 37))):
        samples = np.stack([left, right])
        audio = Audio(AudioInfo(SAMPLE_RATE, 2, samples.shape[1]), iter([samples]))
        blob = codec.encode(audio, kind="audio", bitrate=3)
        out = np.concatenate(list(codec.decode(blob).media.blocks()), axis=1)
        assert out.shape == samples.shape and envelope_correlation(out, samples, SAMPLE_RATE) > 0.5
        (chunk,) = ContainerReader(blob).iter_chunks()
        mid, side = _unpack(chunk, 2)
        assert mid and (not side) == (name == "near mono")
        assert (name == "wide") or np.array_equal(out[0], out[1])
        sizes[name] = len(chunk)
    assert sizes["near mono"] < 0.75 * sizes["wide"]  # a coded side (12 kHz) adds ~half


def test_segmented_processing_equals_whole_file_processing(shared_data):
    """Chunked encode gives the same codes, chunked decode the same samples (within float
    rounding) as running the networks on the whole signal at once."""
    net = load_weights().network
    samples = speech(shared_data, SAMPLE_RATE, 1, 3.0)
    samples = samples[:, : samples.shape[1] // net.hop * net.hop]
    with torch.inference_mode():
        latent = net.encode_latent(torch.from_numpy(samples)[:, None])
        whole_codes = net.rvq_codes(latent, 8).numpy()
        whole = net.decode_latent(net.rvq_latent(torch.from_numpy(whole_codes)))[:, 0].numpy()
    encoder = SegmentEncoder(net, "rvq", 8)
    pieces = list(rechunk(iter(np.array_split(samples, 7, axis=1)), 13 * net.hop))
    codes = np.concatenate([encoder.codes(p) for p in pieces], axis=1)
    assert np.mean(codes == whole_codes) > 0.999  # float ties may flip a rare codeword
    decoder = SegmentDecoder(net, "rvq")
    chunked = np.concatenate([decoder.samples(c) for c in np.array_split(whole_codes, 9, 1)], 1)
    assert chunked.shape == whole.shape
    assert np.abs(chunked - whole).max() < 1e-4


def test_receptive_field_bounds_the_influence_of_an_input_sample():
    torch.manual_seed(0)
    net = AudioNetwork(AudioConfig()).eval()
    enc_frames, dec_frames = net.receptive_frames()
    hop, n = net.hop, 40
    with torch.inference_mode():
        x = torch.randn(1, 1, n * hop)
        y = x.clone()
        y[..., 10 * hop] += 1.0  # frame 10
        changed = (net.encode_latent(x) - net.encode_latent(y)).abs().amax(1)[0] > 0
        frames = torch.nonzero(changed).flatten()
        assert frames.min() == 10 and frames.max() < 10 + enc_frames
        lat = torch.randn(1, net.cfg.latent, n)
        lat2 = lat.clone()
        lat2[..., 10] += 1.0
        diff = (net.decode_latent(lat) - net.decode_latent(lat2)).abs()[0, 0] > 0
        samples = torch.nonzero(diff).flatten()
        assert samples.min() >= 10 * hop and samples.max() < (11 + dec_frames) * hop


def test_code_prior_round_trip_and_ideal_length():
    rng = np.random.default_rng(0)
    alphabet = np.array([8, 5, 5])
    classes = np.zeros((3, 8), dtype=np.int64)
    for s, size in enumerate(alphabet):
        classes[s, :size] = np.arange(size)
    walk = [np.cumsum(rng.integers(0, 2, (300, 3)), 0) % alphabet for _ in range(4)]
    prior = fit_prior(walk, alphabet, classes)
    encoder = SymbolEncoder(StreamKind.RANGE)
    prior.encode(encoder, walk[0])
    data = encoder.to_bytes()
    decoder = SymbolDecoder(data, StreamKind.RANGE)
    assert np.array_equal(prior.decode(decoder, 300, 3), walk[0])
    decoder.finish()
    assert abs(len(data) * 8 - prior.bits(walk[0])) < 64
    assert prior.bits(walk[0]) < 300 * np.log2(alphabet).sum() * 0.8  # the context helps


@pytest.mark.parametrize(
    "options",
    [
        {"bitrate": 5},
        {"mode": "pq"},
        {"mode": "fsq", "bitrate": 3},
        {"quality": 3},
        {"device": "cuda"},
    ],
)
def test_bad_options_are_named(options):
    audio = Audio(AudioInfo(SAMPLE_RATE, 1, 320), iter([np.zeros((1, 320), np.float32)]))
    with pytest.raises(InvalidParameterError):
        codec.encode(audio, kind="audio", **options)


def test_corrupt_and_truncated_files_raise_bitstream_error(shared_data):
    samples = speech(shared_data, SAMPLE_RATE, 2, 1.0)
    audio = Audio(AudioInfo(SAMPLE_RATE, 2, samples.shape[1]), iter([samples]))
    blob = codec.encode(audio, kind="audio")
    for bad in (blob[:-7], blob[: len(blob) // 2], blob[:-40] + bytes(40)):
        with pytest.raises(BitstreamError):
            list(codec.decode(bad).media.blocks())


def test_silence_and_empty_input():
    for n in (0, 5):
        audio = Audio(AudioInfo(22050, 1, n), iter([np.zeros((1, n), np.float32)]))
        decoded = codec.decode(codec.encode(audio, kind="audio"))
        out = list(decoded.media.blocks())
        assert sum(b.shape[1] for b in out) == n


def test_cli_round_trip_of_the_bundled_sample_and_one_line_errors(tmp_path):
    from tests.test_cli import one_line_error, run

    sample = ROOT / "samples" / "melody_22k.flac"
    result = run("encode", sample, tmp_path / "m.ncdc", "--bitrate", "3")
    assert result.exit_code == 0 and "audio (audio-v1)" in result.output
    assert run("decode", tmp_path / "m.ncdc", tmp_path / "m.flac").exit_code == 0
    with open_input(tmp_path / "m.flac") as back, open_input(sample) as original:
        assert back.info == original.info
    one_line_error(run("encode", sample, tmp_path / "x.ncdc", "--bitrate", "5"), 2, "1.5, 3.0")
    one_line_error(run("encode", sample, tmp_path / "y.ncdc", "--mode", "vq"), 2, "rvq or fsq")

"""The video codec (video-v1; hyper mode by default, nerv mode): round trips through every
input format at odd sizes and a single frame, quality of both modes, refinement, residual
segments, time limit, salvage of truncated files, corrupt files and bad options."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import codec
from codec.cli import main
from codec.errors import BitstreamError, InvalidParameterError
from codec.media.video import Video, VideoInfo, open_input, write
from models.video.codec import QUALITIES, segment_frames
from models.video.fit import fit_segment


def cars(shared_data, frames: int, height: int, width: int) -> np.ndarray:
    """(frames, height, width, 3) uint8 crops of the real road-traffic clip."""
    with open_input(shared_data / "video/eval/cars_320x240.i420") as video:
        clip = next(video.segments(frames))
    return np.ascontiguousarray(clip[:, 40 : 40 + height, 60 : 60 + width])


def video_of(frames: np.ndarray, fps: Fraction = Fraction(25)) -> Video:
    return Video(VideoInfo(frames.shape[2], frames.shape[1], fps, len(frames)), iter(frames))


def read_frames(path: Path) -> np.ndarray:
    with open_input(path) as video:
        return np.concatenate(list(video.segments(64)))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return float(10 * np.log10(255**2 / mse))


@pytest.mark.parametrize(
    ("name", "frames", "height", "width"),
    [
        ("clip.mp4", 3, 37, 53),
        ("clip.mkv", 2, 32, 32),
        ("clip.webm", 2, 40, 24),
        ("clip.mov", 2, 24, 40),
        ("clip.y4m", 2, 29, 31),
        ("clip.264", 3, 48, 64),
        ("clip.265", 3, 48, 64),
        ("frames", 2, 17, 23),
        ("one.mp4", 1, 36, 44),
    ],
)
def test_cli_round_trip_of_every_input_format(tmp_path, shared_data, name, frames, height, width):
    """Input written in each container PyAV reads (and a PNG folder), odd sizes, one frame:
    encode, decode to lossless .mkv and to a frames folder; size and count come back."""
    clip = cars(shared_data, frames, height, width)
    src = tmp_path / name
    _write_input(clip, src)
    runner = CliRunner()
    result = runner.invoke(main, ["encode", str(src), str(tmp_path / "v.bin")])
    assert result.exit_code == 0, result.output
    for out in ("out.mkv", "out_frames"):
        result = runner.invoke(main, ["decode", str(tmp_path / "v.bin"), str(tmp_path / out)])
        assert result.exit_code == 0, result.output
        decoded = read_frames(tmp_path / out)
        assert decoded.shape == (frames, height, width, 3)


_WRITERS = {  # suffix -> (container format, encoder, pixel format)
    ".webm": ("webm", "libvpx", "yuv420p"),
    ".mov": ("mov", "libx264", "yuv420p"),
    ".264": ("h264", "libx264", "yuv420p"),
    ".265": ("hevc", "libx265", "yuv420p"),
}


def _write_input(clip: np.ndarray, path: Path) -> None:
    """Write frames in the container the suffix names (.mp4/.mkv/.y4m/folder: the package's
    own writer; others with PyAV here: VP8 WebM, H.264 MOV, raw H.264/H.265 streams)."""
    import av

    if path.suffix not in _WRITERS:
        write(video_of(clip), path)
        return
    fmt, encoder, pix_fmt = _WRITERS[path.suffix]
    with av.open(str(path), mode="w", format=fmt) as container:
        stream = container.add_stream(encoder, rate=25)
        stream.width, stream.height, stream.pix_fmt = clip.shape[2], clip.shape[1], pix_fmt
        if encoder == "libx265":
            stream.options = {"x265-params": "log-level=error"}
        for frame in clip:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))


@pytest.mark.parametrize(
    ("name", "shape"),
    [("eval/cars_320x240.i420", (30, 240, 320, 3)), ("eval/BasketballPass", (100, 240, 416, 3))],
)
def test_real_eval_clips_round_trip(tmp_path, shared_data, name, shape):
    """The eval clips as they are (raw I420, a PNG folder), default (hyper) mode."""
    codec.encode_file(shared_data / "video" / name, tmp_path / "v.bin")
    codec.decode_file(tmp_path / "v.bin", tmp_path / "out.mkv")
    assert read_frames(tmp_path / "out.mkv").shape == shape


def test_fitting_reaches_a_useful_quality_and_the_file_decodes_to_it(shared_data):
    clip = cars(shared_data, 4, 64, 96)
    blob = codec.encode(video_of(clip), kind="video", mode="nerv", quality=2, epochs=100)
    decoded = codec.decode(blob)
    frames = np.stack(list(decoded.media.frames()))
    assert frames.shape == clip.shape
    assert decoded.header.metadata["frames"] == 4
    # the fit itself reaches ~25 dB here; a flat grey guess scores 14.4 dB on these frames
    assert psnr(frames, clip) > 22.0


def test_time_limit_bounds_fitting(shared_data):
    fitted = fit_segment(cars(shared_data, 2, 32, 32), QUALITIES[1], 10**6, time_limit=1.0)
    assert 1 <= fitted.epochs < 10**6


def test_salvage_decodes_the_intact_segments_of_a_truncated_file(tmp_path, shared_data):
    per = segment_frames(16, 16)
    clip = np.concatenate([cars(shared_data, 30, 16, 16)] * (per // 30 + 1))[: per + 5]
    src, coded = tmp_path / "clip.mkv", tmp_path / "v.bin"
    write(video_of(clip), src)
    codec.encode_file(src, coded, mode="nerv", epochs=1)
    data = coded.read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) - 10])
    with pytest.raises(BitstreamError):
        codec.decode_file(tmp_path / "cut.bin", tmp_path / "a.mkv")
    report = codec.decode_file(tmp_path / "cut.bin", tmp_path / "b.mkv", salvage=True)
    assert "chunks 1..1 lost" in report.damaged
    assert read_frames(tmp_path / "b.mkv").shape == (per, 16, 16, 3)
    result = CliRunner().invoke(
        main, ["decode", str(tmp_path / "cut.bin"), str(tmp_path / "c.mkv"), "--salvage"]
    )
    assert result.exit_code == 0 and "lost" in result.output


def test_residual_segments_follow_the_key_interval_and_decode(shared_data):
    """Segments of 4 frames, a key segment every 2: kinds key, residual, key; the residual
    segment's weights are differences to the previous segment's; a file that starts with a
    residual segment is refused."""
    from codec.container import container_bytes
    from codec.registry import EncodeOptions
    from models.video.codec import VideoCodec
    from models.video.quantize import KEY, RESIDUAL

    clip = cars(shared_data, 12, 32, 32)
    encoded = VideoCodec(segment_limit=4, key_interval=2).encode(
        video_of(clip), EncodeOptions(quality=1, mode="nerv", epochs=40)
    )
    chunks = list(encoded.chunks)
    assert [c[0] for c in chunks] == [KEY, RESIDUAL, KEY]
    blob = container_bytes("video", "video-v1", chunks, encoded.metadata)
    frames = np.stack(list(codec.decode(blob).media.frames()))
    assert frames.shape == clip.shape
    # every segment, the residual one too, well above a flat guess (~14 dB; ~20.5 dB here)
    assert all(psnr(frames[i : i + 4], clip[i : i + 4]) > 17.0 for i in (0, 4, 8))
    orphan = container_bytes("video", "video-v1", chunks[1:2], {**encoded.metadata, "frames": 4})
    with pytest.raises(BitstreamError, match="starts with a residual"):
        codec.decode(orphan)


def test_corrupt_files_raise_bitstream_error(shared_data):
    clip = cars(shared_data, 2, 32, 32)
    for options in ({"mode": "nerv", "epochs": 1}, {}):
        blob = bytearray(codec.encode(video_of(clip), kind="video", **options))
        blob[-5] ^= 0xFF
        with pytest.raises(BitstreamError):
            codec.decode(bytes(blob))
        with pytest.raises(BitstreamError):
            codec.decode(bytes(blob[:-20]))


@pytest.mark.parametrize(
    "options",
    [
        {"quality": 9},
        {"mode": "fancy"},
        {"epochs": 3},
        {"mode": "nerv", "epochs": 0},
        {"mode": "nerv", "time_limit": -1.0},
        {"mode": "nerv", "refine": 5},
        {"refine": -1},
        {"bitrate": 100.0},
        {"device": "cuda"},
    ],
)
def test_bad_options_are_named(options):
    clip = np.zeros((1, 8, 8, 3), dtype=np.uint8)
    with pytest.raises(InvalidParameterError):
        codec.encode(video_of(clip), kind="video", **options)


def test_salvage_is_for_video_only(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"hello")
    codec.encode_file(tmp_path / "a.txt", tmp_path / "a.bin")
    with pytest.raises(InvalidParameterError):
        codec.decode_file(tmp_path / "a.bin", tmp_path / "b.txt", salvage=True)


def test_structure_aware_corruption_gives_bitstream_errors_only():
    """Mutations behind valid CRCs (header metadata and chunk data of the golden file) reach
    the header checks and tensor parsers: they raise BitstreamError or decode to frames."""
    import contextlib

    from tests.conformance.golden import VIDEO_FILE, VIDEO_HYPER_FILE
    from tests.test_fuzz import refresh_crcs

    rng = np.random.default_rng(4)
    for golden in (VIDEO_FILE.read_bytes(), VIDEO_HYPER_FILE.read_bytes()):
        for trial in range(200):
            data = bytearray(golden)
            for _ in range(1 + trial % 3):
                data[rng.integers(16, 400 if trial % 2 else len(data))] = rng.integers(0, 256)
            with contextlib.suppress(BitstreamError):
                codec.decode(refresh_crcs(data))


def test_hyper_mode_quality_rate_ladder_and_refinement(shared_data):
    """Hyper mode on real frames: every quality decodes well above a flat guess (~14 dB),
    higher qualities spend more bytes, and refinement lowers the coding objective
    (MSE + bits x step^2 / LAM_UNIT per pixel, from the real file size and decoded frames)."""
    from models.video.codec import HYPER_STEPS
    from models.video.hyper import LAM_UNIT

    clip = cars(shared_data, 8, 96, 128)
    pixels = clip[..., 0].size

    def coded(**options) -> tuple[int, float]:
        blob = codec.encode(video_of(clip), kind="video", **options)
        frames = np.stack(list(codec.decode(blob).media.frames()))
        assert frames.shape == clip.shape
        return len(blob), float(np.mean((frames / 255.0 - clip / 255.0) ** 2))

    sizes = []
    for quality in (1, 3, 5):
        size, mse = coded(quality=quality)
        sizes.append(size)
        # measured 23-25 dB on these frames
        assert 10 * np.log10(1 / mse) > 20.0
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]

    step = HYPER_STEPS[3]

    def objective(size: int, mse: float) -> float:
        return mse + size * 8 / pixels * step**2 / LAM_UNIT

    assert objective(*coded(quality=3, refine=30)) < objective(*coded(quality=3))


def test_hyper_residual_segments_code_differences_and_key_segments_stand_alone(shared_data):
    """A still clip: every non-key segment is a residual (all-zero differences, far smaller
    than its key segment); key segments come back every key_interval segments; a real clip's
    file decodes; weights other than the shipped ones are refused."""
    from codec.container import container_bytes
    from codec.registry import EncodeOptions
    from models.video.codec import VideoCodec
    from models.video.quantize import KEY, RESIDUAL

    still = np.repeat(cars(shared_data, 1, 64, 64), 12, axis=0)
    encoded = VideoCodec(key_interval=2).encode(video_of(still), EncodeOptions())
    chunks = list(encoded.chunks)
    assert [c[0] for c in chunks] == [KEY, RESIDUAL, KEY]
    assert len(chunks[1]) * 4 < len(chunks[0])
    blob = container_bytes("video", "video-v1", chunks, encoded.metadata, encoded.weights_id)
    frames = np.stack(list(codec.decode(blob).media.frames()))
    assert (frames[4:8] == frames[:4]).all()
    orphan = container_bytes(
        "video", "video-v1", chunks[1:2], {**encoded.metadata, "frames": 4}, encoded.weights_id
    )
    with pytest.raises(BitstreamError, match="starts with a residual"):
        codec.decode(orphan)
    other = container_bytes("video", "video-v1", chunks, encoded.metadata, "video-hyper-v1@0")
    with pytest.raises(BitstreamError, match="weights"):
        codec.decode(other)

"""Video media I/O (groundwork of the video kind): every input format of the data README,
odd sizes and single frames, exact FFV1 / PNG-folder output, clear errors."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from codec.errors import InputError
from codec.media.video import Video, VideoInfo, open_input, write

CLIPS = {
    "eval/BasketballPass": (416, 240, 100),
    "eval/cars_320x240.i420": (320, 240, 30),
    "eval/bunny_1280x720_132f.mp4": (1280, 720, 132),
    "train/sintel_854x480_48f.mp4": (854, 480, 48),
    "train/foreman_cif_300f.264": (352, 288, None),
    "train/big_buck_bunny_0_30.webm": (1280, 720, None),
}


def video_of(frames: np.ndarray, fps: Fraction = Fraction(30000, 1001)) -> Video:
    info = VideoInfo(frames.shape[2], frames.shape[1], fps, len(frames))
    return Video(info, (frame for frame in frames))


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_reads_every_format_of_the_data_folder(shared_data, name):
    width, height, frames = CLIPS[name]
    with open_input(shared_data / "video" / name) as video:
        assert (video.info.width, video.info.height, video.info.frames) == (width, height, frames)
        first = next(video.segments(4))
    assert first.shape == (4, height, width, 3) and first.dtype == np.uint8


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 11, 17), (5, 24, 33)])
@pytest.mark.parametrize("suffix", [".mkv", ""])
def test_lossless_outputs_round_trip_exactly(tmp_path, shape, suffix):
    frames = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    target = tmp_path / f"out{suffix}"
    write(video_of(frames), target)
    with open_input(target) as back:
        decoded = np.concatenate(list(back.segments(2)))
        assert (back.info.width, back.info.height) == (shape[2], shape[1])
    assert np.array_equal(decoded, frames)


def test_y4m_and_mp4_outputs_are_close(tmp_path):
    x = np.linspace(0, 200, 32)
    frames = np.stack([np.stack([np.add.outer(x[:16], x) + t] * 3, -1) for t in range(3)])
    frames = frames.astype(np.uint8)
    for suffix, tolerance in ((".y4m", 2), (".mp4", 12)):
        write(video_of(frames, Fraction(24)), tmp_path / f"v{suffix}")
        with open_input(tmp_path / f"v{suffix}") as back:
            assert back.info.fps == 24
            decoded = np.stack(list(back.frames()))
        assert np.abs(decoded.astype(int) - frames).max() <= tolerance


def test_clear_errors(tmp_path):
    (tmp_path / "clip.i420").write_bytes(b"\0" * 100)
    (tmp_path / "clip_4x4.i420").write_bytes(b"\0" * 25)
    (tmp_path / "notes.mp4").write_bytes(b"not a video at all")
    (tmp_path / "empty").mkdir()
    cases = {
        "clip.i420": "size in the name",
        "clip_4x4.i420": "whole number",
        "notes.mp4": "not a readable video",
        "empty": ".png files",
    }
    for name, message in cases.items():
        with pytest.raises(InputError, match=message), open_input(tmp_path / name):
            pass
    with pytest.raises(InputError, match="unsupported video output"):
        write(video_of(np.zeros((1, 2, 2, 3), np.uint8)), Path(tmp_path / "out.gif"))

"""Video files <-> streams of RGB frames, through PyAV (FFmpeg).

Inputs (``open_input``), decoded lazily so memory does not grow with duration:

- any container PyAV reads: mp4, mkv, webm, mov, avi, y4m; raw H.264 / H.265 bitstreams
  (``.264``/``.h264``/``.265``/``.hevc``, demuxed as such);
- a folder of PNG frames (sorted by name);
- raw I420 (``.i420``/``.yuv``) with the size in the name, e.g. ``cars_320x240.i420``.

Frames are (H, W, 3) uint8 RGB; colour conversion from YUV is FFmpeg's (BT.601 limited range
unless the stream says otherwise). Folders and raw I420 have no frame rate: 25 fps is assumed.

Outputs (``write``), chosen by the output name: ``.mkv`` FFV1 with RGB (lossless), ``.y4m``
YUV 4:4:4 (the frames up to FFmpeg's RGB->YUV rounding, +-2 levels), ``.mp4`` H.264
re-encoded (lossy: CRF 12, 4:2:0, or 4:4:4 for odd sizes; said on stderr), a name without
suffix a folder of PNG frames.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from codec.errors import InputError
from codec.media.avstream import open_first_stream

DEFAULT_FPS = Fraction(25)
MAX_SIDE = 1 << 14
RAW_BITSTREAMS = {".264": "h264", ".h264": "h264", ".265": "hevc", ".hevc": "hevc"}
RAW_YUV = (".i420", ".yuv")
_SIZE_IN_NAME = re.compile(r"(\d+)x(\d+)")


@dataclass(frozen=True)
class VideoInfo:
    """Frame size in pixels, frame rate, and frame count when the input says (else None)."""

    width: int
    height: int
    fps: Fraction
    frames: int | None


class Video:
    """A video as ``info`` + a frame iterator; ``segments(n)`` groups frames into (T, H, W, 3)
    arrays of at most n frames. Iterate once (frames are decoded as they are consumed)."""

    def __init__(self, info: VideoInfo, frames: Generator[np.ndarray, None, None]) -> None:
        self.info = info
        self._frames = frames

    def frames(self) -> Generator[np.ndarray, None, None]:
        return self._frames

    def segments(self, length: int) -> Iterator[np.ndarray]:
        batch: list[np.ndarray] = []
        for frame in self._frames:
            batch.append(frame)
            if len(batch) == length:
                yield np.stack(batch)
                batch = []
        if batch:
            yield np.stack(batch)


def _check_size(width: int, height: int, name: str) -> None:
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise InputError(f"{name}: frame size {width}x{height} is outside 1..{MAX_SIDE}")


def _open_container(path: Path) -> Video:
    import av

    fmt = RAW_BITSTREAMS.get(path.suffix.lower())
    container, stream = open_first_stream(path, "video", "video", fmt)
    stream.thread_type = "AUTO"
    fps = stream.average_rate or stream.guessed_rate or DEFAULT_FPS
    width, height = stream.codec_context.width, stream.codec_context.height
    _check_size(width, height, str(path))
    info = VideoInfo(width, height, Fraction(fps), stream.frames or None)

    def frames() -> Iterator[np.ndarray]:
        with container:
            try:
                for frame in container.decode(stream):
                    yield frame.to_ndarray(format="rgb24")
            except av.FFmpegError as exc:
                raise InputError(f"{path}: video data is corrupt ({exc})") from None

    return Video(info, frames())


def _open_folder(path: Path) -> Video:
    from PIL import Image

    files = sorted(path.glob("*.png"))
    if not files:
        raise InputError(f"{path}: a folder of video frames must hold .png files")
    with Image.open(files[0]) as first:
        width, height = first.size
    _check_size(width, height, str(path))

    def frames() -> Iterator[np.ndarray]:
        for file in files:
            with Image.open(file) as image:
                frame = np.asarray(image.convert("RGB"))
            if frame.shape[:2] != (height, width):
                raise InputError(f"{file}: {frame.shape[1]}x{frame.shape[0]}, expected"
                                 f" {width}x{height} like the first frame")  # fmt: skip
            yield frame

    return Video(VideoInfo(width, height, DEFAULT_FPS, len(files)), frames())


def _open_i420(path: Path) -> Video:
    import av

    match = _SIZE_IN_NAME.search(path.stem)
    if match is None:
        raise InputError(f"{path}: raw I420 needs its size in the name, e.g. clip_320x240.i420")
    width, height = int(match.group(1)), int(match.group(2))
    _check_size(width, height, str(path))
    if width % 2 or height % 2:
        raise InputError(f"{path}: I420 needs an even frame size, got {width}x{height}")
    frame_bytes = width * height * 3 // 2
    count, rest = divmod(path.stat().st_size, frame_bytes)
    if rest or not count:
        raise InputError(f"{path}: size is not a whole number of {width}x{height} I420 frames")

    def frames() -> Iterator[np.ndarray]:
        with open(path, "rb") as f:
            for _ in range(count):
                planes = np.frombuffer(f.read(frame_bytes), dtype=np.uint8)
                frame = av.VideoFrame.from_ndarray(
                    planes.reshape(height * 3 // 2, width), format="yuv420p"
                )
                yield frame.to_ndarray(format="rgb24")

    return Video(VideoInfo(width, height, DEFAULT_FPS, count), frames())


@contextlib.contextmanager
def open_input(path: Path) -> Iterator[Video]:
    """Context manager yielding the :class:`Video` of ``path`` (file or frames folder); the
    demuxer is closed when the context ends, even if the frames were not all read."""
    if path.is_dir():
        video = _open_folder(path)
    elif path.suffix.lower() in RAW_YUV:
        video = _open_i420(path)
    else:
        video = _open_container(path)
    try:
        yield video
    finally:
        video.frames().close()


def _encoder_settings(suffix: str, info: VideoInfo) -> tuple[str, str, str, dict[str, str]]:
    """(container format, codec, pixel format, options) for an output suffix."""
    if suffix == ".mkv":
        return "matroska", "ffv1", "bgr0", {}
    if suffix == ".y4m":
        return "yuv4mpegpipe", "rawvideo", "yuv444p", {}
    if suffix == ".mp4":  # 4:2:0 needs even sides
        even = info.width % 2 == 0 and info.height % 2 == 0
        return "mp4", "libx264", "yuv420p" if even else "yuv444p", {"crf": "12"}
    raise InputError(f"unsupported video output {suffix!r}: use .mkv, .y4m, .mp4 or a folder name")


def write(video: Video, path: Path) -> None:
    """Write the frames of ``video`` to ``path`` (format from the name, module docstring)."""
    suffix = path.suffix.lower()
    if suffix in ("", ".partial"):
        _write_folder(video, path)
        return
    import av

    fmt, codec_name, pix_fmt, options = _encoder_settings(suffix, video.info)
    if codec_name == "libx264":
        print(f"note: {path.name} is re-encoded with H.264 (lossy); use .mkv for exact frames",
              file=sys.stderr)  # fmt: skip
    with av.open(str(path), mode="w", format=fmt) as container:
        stream = container.add_stream(codec_name, rate=video.info.fps, options=options)
        stream.width, stream.height, stream.pix_fmt = video.info.width, video.info.height, pix_fmt
        for array in video.frames():
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _write_folder(video: Video, path: Path) -> None:
    from PIL import Image

    path.mkdir()
    for index, frame in enumerate(video.frames(), start=1):
        Image.fromarray(frame).save(path / f"f{index:05d}.png")


def collect(video: Video) -> Video:
    """The video with all its frames decoded now (in-memory API: errors surface here)."""
    frames = list(video.frames())
    info = video.info
    return Video(VideoInfo(info.width, info.height, info.fps, len(frames)), (f for f in frames))

"""Opening the first audio or video stream of a file with PyAV, with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codec.errors import InputError


def open_first_stream(path: Path, kind: str, what: str, fmt: str | None = None) -> tuple[Any, Any]:
    """(container, its first ``kind`` stream) for kind "audio" or "video"; ``what`` names the
    expected content in errors; ``fmt`` forces a demuxer (raw bitstreams)."""
    import av

    try:
        container = av.open(str(path), format=fmt)
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"{path}: not a readable {what} ({exc})") from None
    streams = getattr(container.streams, kind)
    if not streams:
        container.close()
        raise InputError(f"{path}: has no {kind} stream")
    return container, streams[0]

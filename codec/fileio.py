"""Atomic output: write to a temporary file beside the target, then rename over it."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from codec.errors import OutputExistsError

FRAME_NAME = re.compile(r"f\d{5,}\.png")  # frame files of a decoded video folder


def check_output(path: Path, force: bool) -> None:
    """Fail early if ``path`` exists and ``force`` is False, or its folder is missing."""
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists (use --force to overwrite)")
    if path.is_dir() and not _is_frames_folder(path):
        raise OutputExistsError(f"{path} is a folder with other files than frames: not replaced")
    if not path.parent.is_dir():
        raise OutputExistsError(f"output folder {path.parent} does not exist")


@contextlib.contextmanager
def atomic_output(path: Path, force: bool) -> Iterator[Path]:
    """Yield a temporary path (same folder and suffix as ``path``) to write to.

    On success the temporary file is flushed to disk and renamed to ``path``; on any error it is
    removed, so a failed run never leaves a partial output. The writer may make a folder
    there instead (video frames): it replaces ``path`` as a whole in the same way.
    """
    check_output(path, force)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial{path.suffix}")
    try:
        yield tmp
        for file in sorted(tmp.iterdir()) if tmp.is_dir() else [tmp]:
            with open(file, "rb+") as f:
                os.fsync(f.fileno())
        if path.exists() and not force:
            raise OutputExistsError(f"{path} appeared while writing (use --force to overwrite)")
        if path.is_dir():
            check_output(path, force)
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _is_frames_folder(path: Path) -> bool:
    """A real folder holding only decoded frames (f00001.png ...): --force may replace it."""
    return not path.is_symlink() and all(
        f.is_file() and FRAME_NAME.fullmatch(f.name) for f in path.iterdir()
    )

"""Atomic output: write to a temporary file beside the target, then rename over it."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from codec.errors import OutputExistsError


def check_output(path: Path, force: bool) -> None:
    """Fail early if ``path`` exists and ``force`` is False, or its folder is missing."""
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists (use --force to overwrite)")
    if not path.parent.is_dir():
        raise OutputExistsError(f"output folder {path.parent} does not exist")


@contextlib.contextmanager
def atomic_output(path: Path, force: bool) -> Iterator[Path]:
    """Yield a temporary path (same folder and suffix as ``path``) to write to.

    On success the temporary file is flushed to disk and renamed to ``path``; on any error it is
    removed, so a failed run never leaves a partial output.
    """
    check_output(path, force)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial{path.suffix}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if path.exists() and not force:
            raise OutputExistsError(f"{path} appeared while writing (use --force to overwrite)")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()

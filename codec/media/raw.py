"""Raw bytes: the input is read in blocks from a file object, the output written as blocks."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO


def open_input(path: Path) -> BinaryIO:
    """Context manager (the open file): the raw kind encodes from it block by block."""
    return open(path, "rb")


def write(blocks: Iterable[bytes], path: Path) -> None:
    """Write decoded blocks to ``path`` as they arrive."""
    with open(path, "wb") as f:
        for block in blocks:
            f.write(block)


def collect(blocks: Iterable[bytes]) -> bytes:
    """In-memory result of a decode."""
    return b"".join(blocks)

"""Running CPU inference pieces on a fixed number of one-thread workers.

torch's CPU kernels split their sums differently with more threads (differences of ~1e-7
that flip a rare rounded output), so decoders that must give the same output whatever the
caller's thread setting run each piece on one thread, ``WORKERS`` pieces at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

from models.allocator import keep_freed_memory

T = TypeVar("T")
R = TypeVar("R")

WORKERS = 2


def run_single_threaded(fn: Callable[[T], R], pieces: Iterable[T]) -> list[R]:
    """``[fn(p) for p in pieces]`` on WORKERS threads, torch limited to one thread each
    (and freed memory kept for reuse, :mod:`models.allocator`)."""
    keep_freed_memory()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            return list(pool.map(fn, pieces))
    finally:
        torch.set_num_threads(threads)

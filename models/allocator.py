"""Keep freed memory in the process (glibc malloc) so that large inference buffers are
reused instead of handed back to the kernel and faulted in again page by page.

glibc serves allocations above its mmap threshold (adaptive, 128 KiB to 32 MiB) with their
own mappings, unmapped on free, and trims the top of the heap beyond its trim threshold, so
each convolution's fresh output of a few MB is zero-filled by the kernel one 4 KiB page at a
time. On this project's 2-core VM a page fault costs ~3 us, and one 10-second audio segment
took 10-50 thousand of them (up to a quarter of its network time). :func:`keep_freed_memory`
raises both thresholds once per process: resident memory then stays near its peak instead
of falling after each call. Process-wide; a no-op without glibc's ``mallopt``.
"""

from __future__ import annotations

import ctypes
import functools

MMAP_THRESHOLD = 64 << 20  # bytes: smaller blocks come from the (reused) heap
TRIM_THRESHOLD = 256 << 20  # bytes of free heap top kept instead of returned
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers


@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (once); True if the C library took them."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )

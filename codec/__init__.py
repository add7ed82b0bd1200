"""Neural compression codecs with one entropy layer and one file format.

Public API (imported lazily so that ``import codec`` stays cheap)::

    codec.encode(media, kind=...) -> bytes        codec.decode(data) -> Decoded
    codec.encode_file(src, dst, ...) -> report    codec.decode_file(src, dst) -> report
    codec.info(path) -> ContainerHeader
"""

from __future__ import annotations

import os
from typing import Any

# MKL (torch's CPU matrix products, behind the float synthesis transforms) reads this on its
# first call: its AVX2 code path on every CPU that has one (AVX-512 machines round like AVX2
# ones) and sums split the same way whatever the thread count ("strict" reproducibility).
os.environ.setdefault("MKL_CBWR", "AVX2,STRICT")

__version__ = "0.1.0"

_API = ("encode", "decode", "encode_file", "decode_file", "info", "Decoded")


def __getattr__(name: str) -> Any:
    if name in _API:
        from codec import api

        return getattr(api, name)
    raise AttributeError(f"module 'codec' has no attribute {name!r}")


__all__ = [*_API, "__version__"]

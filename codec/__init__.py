"""Neural compression codecs with one entropy layer and one file format.

Public API (imported lazily so that ``import codec`` stays cheap)::

    codec.encode(media, kind=...) -> bytes        codec.decode(data) -> Decoded
    codec.encode_file(src, dst, ...) -> report    codec.decode_file(src, dst) -> report
    codec.info(path) -> ContainerHeader
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = ("encode", "decode", "encode_file", "decode_file", "info", "Decoded")


def __getattr__(name: str) -> Any:
    if name in _API:
        from codec import api

        return getattr(api, name)
    raise AttributeError(f"module 'codec' has no attribute {name!r}")


__all__ = [*_API, "__version__"]

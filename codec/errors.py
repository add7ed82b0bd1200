"""Exceptions raised by the codec package.

Every error a user can cause (bad input file, corrupt bitstream, unsupported option) is a
subclass of :class:`CodecError`; the CLI prints its message on one line and exits with code 2.
"""

from __future__ import annotations


class CodecError(Exception):
    """Base class of every error the package raises on purpose."""


class BitstreamError(CodecError):
    """A compressed file or stream is corrupt, truncated, foreign or inconsistent."""


class UnsupportedVersionError(BitstreamError):
    """The file was written by a newer (or unknown) version of the format."""


class InputError(CodecError):
    """An input file or in-memory input cannot be encoded (unreadable, wrong type, too big)."""


class InvalidParameterError(CodecError, ValueError):
    """A parameter is out of its valid domain (std <= 0, NaN, index out of range, ...)."""


class KindNotAvailableError(CodecError):
    """The media kind exists in the format but its codec is not built yet."""


class OutputExistsError(CodecError):
    """The output path exists and ``force`` was not given."""

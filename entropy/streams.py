"""Entropy-coder streams: ANS (stack) and range coding (queue) behind one interface.

Both encoders accept calls in the order the decoder will make them: ``encode(a)``,
``encode(b)`` is undone by ``decode(a)``, ``decode(b)``. The ANS encoder buffers its
operations and replays them in reverse when :meth:`SymbolEncoder.to_bytes` is called (ANS is a
stack); the range encoder writes as it goes (a queue), so it suits sequential coders whose next
distribution depends on what came before.

Compressed data is constriction's sequence of uint32 words written little-endian.
Coder settings fixed by this module (and therefore by the format): 32-bit words and 24-bit
probabilities (constriction's defaults for ``AnsCoder``/``RangeEncoder``).
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import hashlib
from collections.abc import Iterator
from typing import Any

import constriction
import numpy as np

from codec.errors import BitstreamError

Model = Any  # a constriction.stream.model.* instance (fixed model or model family)


class StreamKind(enum.StrEnum):
    """Which constriction coder a stream uses; stored by codecs that let the caller choose."""

    ANS = "ans"
    RANGE = "range"


def _as_symbols(symbols: np.ndarray) -> np.ndarray:
    array = np.asarray(symbols)
    if array.ndim != 1:
        raise ValueError(f"symbols must be a 1-D array, got shape {array.shape}")
    return np.array(array, dtype=np.int32, copy=True)


class SymbolEncoder:
    """Encodes integer symbols with constriction models; ``to_bytes()`` returns the stream."""

    def __init__(self, kind: StreamKind = StreamKind.ANS) -> None:
        self.kind = StreamKind(kind)
        self._ops: list[tuple[np.ndarray, Model, tuple[np.ndarray, ...]]] = []
        self._range = None
        if self.kind == StreamKind.RANGE:
            self._range = constriction.stream.queue.RangeEncoder()

    def encode(self, symbols: np.ndarray, model: Model, *params: np.ndarray) -> None:
        """Encode ``symbols`` (1-D ints) with a fixed ``model``, or a model family + per-symbol
        parameter arrays ``params`` (each of the same length as ``symbols``)."""
        symbols = _as_symbols(symbols)
        if symbols.size == 0:
            return
        params = tuple(np.array(p, copy=True) for p in params)
        if self._range is not None:
            self._range.encode(symbols, model, *params)
        else:
            self._ops.append((symbols, model, params))

    def to_bytes(self) -> bytes:
        """The compressed stream (a multiple of 4 bytes; empty if nothing was encoded)."""
        if self._range is not None:
            words = self._range.get_compressed()
        else:
            coder = constriction.stream.stack.AnsCoder()
            for symbols, model, params in reversed(self._ops):
                coder.encode_reverse(symbols, model, *params)
            words = coder.get_compressed()
        return np.asarray(words, dtype="<u4").tobytes()


_TRACE: contextvars.ContextVar[Any] = contextvars.ContextVar("symbol_trace", default=None)


@contextlib.contextmanager
def trace_symbols() -> Iterator[Any]:
    """Hash every symbol the :class:`SymbolDecoder` s of this context return, in order.

    Yields a ``hashlib.sha256`` object fed each decoded symbol as little-endian int64; its
    digest identifies the whole entropy-decoded content of a file. That content comes from
    integer arithmetic only (the decoder contract above), so the digest is the same on every
    machine, whatever the float parts of a codec do with the symbols afterwards.
    """
    digest = hashlib.sha256()
    token = _TRACE.set(digest)
    try:
        yield digest
    finally:
        _TRACE.reset(token)


def _traced(symbols: np.ndarray) -> None:
    trace = _TRACE.get()
    if trace is not None:
        trace.update(np.asarray(symbols, dtype="<i8").tobytes())


def _guarded(call, *args):
    """``call(*args)``, a constriction failure (its panics raise a BaseException subclass)
    turned into :class:`BitstreamError`."""
    try:
        return call(*args)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise BitstreamError(
            f"entropy decoder failed on corrupt data ({type(exc).__name__}: {exc})"
        ) from None


class SymbolDecoder:
    """Decodes what a :class:`SymbolEncoder` of the same kind wrote, call for call."""

    def __init__(self, data: bytes, kind: StreamKind = StreamKind.ANS) -> None:
        self.kind = StreamKind(kind)
        if len(data) % 4:
            raise BitstreamError(f"entropy-coded stream of {len(data)} bytes is not whole words")
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        if self.kind == StreamKind.RANGE:
            self._coder = _guarded(constriction.stream.queue.RangeDecoder, words)
        else:
            self._coder = _guarded(constriction.stream.stack.AnsCoder, words)

    def decode(self, model: Model, *params: np.ndarray | int) -> np.ndarray:
        """Decode with a fixed model and a count, or a model family and parameter arrays.

        Returns a 1-D int32 array.
        """
        if len(params) == 1 and isinstance(params[0], (int, np.integer)):
            if int(params[0]) == 0:
                return np.zeros(0, dtype=np.int32)
        elif params and len(params[0]) == 0:
            return np.zeros(0, dtype=np.int32)
        out = np.atleast_1d(np.asarray(_guarded(self._coder.decode, model, *params), np.int32))
        _traced(out)
        return out

    def decode_one(self, model: Model) -> int:
        """One symbol with a fixed model (the lean path for symbol-by-symbol context loops)."""
        symbol = _guarded(self._coder.decode, model)
        _traced(symbol)
        return symbol

    def finish(self) -> None:
        """Raise :class:`BitstreamError` unless all compressed data was consumed."""
        if self.kind == StreamKind.ANS:
            done = self._coder.is_empty()
        else:
            done = self._coder.maybe_exhausted()
        if not done:
            raise BitstreamError("entropy-coded stream has data left after the last symbol")

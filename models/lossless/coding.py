"""Entropy coding of pixel batches with an integer circuit (range-coded streams).

All B images of a batch advance together, one variable at a time (``order``): the integer
conditionals of variable i for the B images become B table rows, and x_i of every image is
coded with its row. The decoder runs the same steps, decoding x_i before observing it, so it
rebuilds exactly the encoder's tables (models.lossless.integer). A range coder (a queue) lets
the encoder emit as it goes, without keeping the tables of the whole batch.

Two stream layouts: one stream for the whole batch (:func:`encode_pixels`), or one stream per
image (:func:`encode_streams`: the bytes of image b do not depend on the other images, so a
batch of single-image files is coded at batch speed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from entropy import CategoricalRows, StreamKind, SymbolDecoder, SymbolEncoder
from models.lossless.integer import IntegerConditionals, IntegerTables

_ROWS = CategoricalRows()
Step = Callable[[int, np.ndarray], np.ndarray]


def _walk(tables: IntegerTables, batch: int, order: Sequence[int], step: Step) -> None:
    """For each variable i in ``order``: values = step(i, (B, 256) table rows), then observe.

    BLAS runs single-threaded here: the matrices are small (B x k by k x k), and threads that
    spin while other processes hold the cores made coding ~15x slower on a loaded machine."""
    from threadpoolctl import threadpool_limits

    state = IntegerConditionals(tables, batch)
    with threadpool_limits(limits=1, user_api="blas"):
        for i in order:
            state.observe(i, step(i, state.frequencies(i)))


def encode_pixels(tables: IntegerTables, pixels: np.ndarray, order: Sequence[int]) -> bytes:
    """pixels: (B, D) uint8, coded at the variables ``order`` (the others are marginalised:
    padding, absent pixels). Returns the stream bytes."""
    encoder = SymbolEncoder(StreamKind.RANGE)
    values = pixels.astype(np.int64)

    def step(i: int, rows: np.ndarray) -> np.ndarray:
        _ROWS.encode(encoder, values[:, i], rows)
        return values[:, i]

    _walk(tables, len(values), order, step)
    return encoder.to_bytes()


def decode_pixels(
    tables: IntegerTables, data: bytes, batch: int, order: Sequence[int]
) -> np.ndarray:
    """Inverse of :func:`encode_pixels`: (batch, D) uint8 (variables not in ``order`` are 0).
    Raises BitstreamError when ``data`` is not exactly such a stream."""
    decoder = SymbolDecoder(data, StreamKind.RANGE)
    pixels = np.zeros((batch, tables.dims), dtype=np.uint8)

    def step(i: int, rows: np.ndarray) -> np.ndarray:
        values = _ROWS.decode(decoder, rows)
        pixels[:, i] = values
        return values

    _walk(tables, batch, order, step)
    decoder.finish()
    return pixels


def encode_streams(tables: IntegerTables, pixels: np.ndarray, order: Sequence[int]) -> list[bytes]:
    """Like :func:`encode_pixels`, but one stream per image (each equal to
    ``encode_pixels(tables, pixels[b:b+1], order)``)."""
    encoders = [SymbolEncoder(StreamKind.RANGE) for _ in range(len(pixels))]
    values = pixels.astype(np.int64)

    def step(i: int, rows: np.ndarray) -> np.ndarray:
        for b, encoder in enumerate(encoders):
            _ROWS.encode(encoder, values[b : b + 1, i], rows[b : b + 1])
        return values[:, i]

    _walk(tables, len(values), order, step)
    return [encoder.to_bytes() for encoder in encoders]


def decode_streams(
    tables: IntegerTables, streams: Sequence[bytes], order: Sequence[int]
) -> np.ndarray:
    """Inverse of :func:`encode_streams`: (len(streams), D) uint8."""
    decoders = [SymbolDecoder(data, StreamKind.RANGE) for data in streams]
    pixels = np.zeros((len(streams), tables.dims), dtype=np.uint8)

    def step(i: int, rows: np.ndarray) -> np.ndarray:
        for b, decoder in enumerate(decoders):
            pixels[b, i] = _ROWS.decode(decoder, rows[b : b + 1])[0]
        return pixels[:, i].astype(np.int64)

    _walk(tables, len(streams), order, step)
    for decoder in decoders:
        decoder.finish()
    return pixels

"""Distribution families: how integer symbols plus parameters become calls on a stream.

Each family has ``encode(encoder, symbols, params)`` and ``decode(decoder, params)``; the
decoder must be given the same parameters the encoder used (they are integers, or integer
frequency rows, never floats that the decoder would have to recompute).

Families:

- :class:`IndexedFamily` -- per-symbol integer index into a :class:`~entropy.tables.TableSet`;
  symbols outside a table's range are escaped and their value coded exactly (Elias-gamma with
  uniform bit chunks), never clipped. :class:`IndexedGaussian` and :class:`IndexedLaplace` are
  fixed table sets over a log-spaced scale table; the mean is subtracted by the caller.
- :class:`CategoricalRows` -- one integer frequency row per symbol (PC / FSQ / RVQ priors).
- :class:`AdaptiveContextModel` -- integer counts per context, updated block by block.

Work is vectorised: Python loops run over tables, contexts or blocks, never over symbols.
"""

from __future__ import annotations

import functools

import constriction
import numpy as np

from codec.errors import BitstreamError, InvalidParameterError
from entropy.streams import SymbolDecoder, SymbolEncoder
from entropy.tables import (
    TableSet,
    gaussian_table_set,
    laplace_table_set,
    log_scale_table,
)

_MAX_MAGNITUDE = 1 << 62
_CHUNK_BITS = 16
_UNIFORM = constriction.stream.model.Uniform()
_BIT_COUNT = constriction.stream.model.Uniform(64)


_CATEGORICAL = constriction.stream.model.Categorical


def categorical_model(frequencies: np.ndarray) -> constriction.stream.model.Categorical:
    """A fixed constriction model for one row of integer frequencies >= 1 (sum < 2**53)."""
    return _CATEGORICAL(np.asarray(frequencies, dtype=np.float64), perfect=False)


def _group(ids: np.ndarray, n_groups: int) -> list[tuple[int, slice | np.ndarray]]:
    """(group, positions) for each non-empty group of ``ids`` (ints in 0..n_groups-1), in
    group order; positions are increasing (a slice when there is a single group). Narrow
    keys make numpy use its linear-time radix sort."""
    counts = np.bincount(ids, minlength=n_groups)
    present = np.flatnonzero(counts)
    if present.size == 1:
        return [(int(present[0]), slice(None))]
    keys = ids.astype(np.uint16, copy=False) if n_groups <= 1 << 16 else ids
    order = np.argsort(keys, kind="stable")
    ends = np.cumsum(counts)
    return [(int(g), order[ends[g] - counts[g] : ends[g]]) for g in present]


def _as_int64(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind not in "iub":
        raise InvalidParameterError(f"{name} must be integers, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False).reshape(-1)


def encode_unsigned(encoder: SymbolEncoder, values: np.ndarray) -> None:
    """Exact code for non-negative integers < 2**62: bit count, then the bits in 16-bit chunks."""
    w = values.astype(np.uint64) + np.uint64(1)
    n_bits = np.zeros(w.shape, dtype=np.int32)
    for bit in range(1, 64):
        n_bits += (w >> np.uint64(bit)) > 0
    encoder.encode(n_bits, _BIT_COUNT)
    rest = w - (np.uint64(1) << n_bits.astype(np.uint64))
    for start in range(0, 63, _CHUNK_BITS):
        sel = n_bits > start
        if not sel.any():
            break
        width = np.minimum(n_bits[sel] - start, _CHUNK_BITS)
        chunk = (rest[sel] >> np.uint64(start)) & ((np.uint64(1) << width.astype(np.uint64)) - 1)
        encoder.encode(chunk.astype(np.int32), _UNIFORM, (1 << width).astype(np.int32))


def decode_unsigned(decoder: SymbolDecoder, count: int) -> np.ndarray:
    """Inverse of :func:`encode_unsigned` for ``count`` values; returns uint64."""
    n_bits = decoder.decode(_BIT_COUNT, count)
    if np.any(n_bits > 62):
        raise BitstreamError("escaped value longer than 62 bits")
    rest = np.zeros(count, dtype=np.uint64)
    for start in range(0, 63, _CHUNK_BITS):
        sel = n_bits > start
        if not sel.any():
            break
        width = np.minimum(n_bits[sel] - start, _CHUNK_BITS)
        chunk = decoder.decode(_UNIFORM, (1 << width).astype(np.int32))
        rest[sel] |= chunk.astype(np.uint64) << np.uint64(start)
    return rest + (np.uint64(1) << n_bits.astype(np.uint64)) - np.uint64(1)


class IndexedFamily:
    """Symbols coded with table ``indexes[i]`` of a :class:`TableSet`, with exact escapes."""

    def __init__(self, tables: TableSet) -> None:
        self.tables = tables
        self._models: dict[int, constriction.stream.model.Categorical] = {}

    def _model(self, index: int) -> constriction.stream.model.Categorical:
        model = self._models.get(index)
        if model is None:
            model = self._models[index] = categorical_model(self.tables.frequencies[index])
        return model

    def _check_indexes(self, indexes: np.ndarray) -> np.ndarray:
        indexes = _as_int64(indexes, "indexes")
        if indexes.size and (indexes.min() < 0 or indexes.max() >= len(self.tables)):
            raise InvalidParameterError(
                f"table index out of range 0..{len(self.tables) - 1}"
                f" (got {indexes.min()}..{indexes.max()})"
            )
        return indexes

    def encode(self, encoder: SymbolEncoder, symbols: np.ndarray, indexes: np.ndarray) -> None:
        """symbols: integers with |s| < 2**62 (any shape); indexes: same size, table numbers."""
        symbols = _as_int64(symbols, "symbols")
        indexes = self._check_indexes(indexes)
        if symbols.shape != indexes.shape:
            raise InvalidParameterError(f"{symbols.size} symbols but {indexes.size} indexes")
        if symbols.size and np.abs(symbols).max() >= _MAX_MAGNITUDE:
            raise InvalidParameterError("symbol magnitude must be below 2**62")
        offsets = self.tables.offsets[indexes]
        sizes = self.tables.sizes[indexes]
        position = symbols - offsets
        escaped = position.view(np.uint64) >= sizes.view(np.uint64)  # < 0 wraps to huge
        coded = np.where(escaped, sizes, position).astype(np.int32)
        for table, positions in _group(indexes, len(self.tables)):
            encoder.encode(coded[positions], self._model(table))
        if escaped.any():
            value, low = symbols[escaped], offsets[escaped]
            below = value < low
            excess = np.where(below, low - 1 - value, value - low - sizes[escaped])
            encode_unsigned(encoder, 2 * excess + below)

    @functools.cached_property
    def _lengths(self) -> np.ndarray:
        """(n_tables, largest size + 1) float64 bits of every table entry, padded with inf."""
        rows = self.tables.frequencies
        lengths = np.full((len(rows), max(row.size for row in rows)), np.inf)
        for k, row in enumerate(rows):
            lengths[k, : row.size] = self.tables.precision - np.log2(row)
        return lengths

    def code_lengths(self, symbols: np.ndarray, indexes: np.ndarray) -> np.ndarray:
        """Ideal code length in bits of each symbol under table ``indexes[i]`` (what
        :meth:`encode` spends on it, up to the coder's rounding; escapes include their exact
        value code). symbols, indexes: integers of one shape -> float64 of that shape."""
        shape = np.shape(symbols)
        symbols = _as_int64(symbols, "symbols")
        indexes = self._check_indexes(indexes)
        position = symbols - self.tables.offsets[indexes]
        sizes = self.tables.sizes[indexes]
        escaped = (position < 0) | (position >= sizes)
        bits = self._lengths[indexes, np.where(escaped, sizes, position)]
        if escaped.any():
            low = self.tables.offsets[indexes[escaped]]
            value = symbols[escaped]
            below = value < low
            excess = np.where(below, low - 1 - value, value - low - sizes[escaped])
            coded = 2.0 * excess + below  # as encode_unsigned: 6-bit count, then the bits
            bits[escaped] += 6 + np.floor(np.log2(coded + 1))
        return bits.reshape(shape)

    def decode(self, decoder: SymbolDecoder, indexes: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`encode`; returns int64 symbols shaped like ``indexes``."""
        shape = np.shape(indexes)
        indexes = self._check_indexes(indexes)
        coded = np.empty(indexes.size, dtype=np.int64)
        for table, positions in _group(indexes, len(self.tables)):
            count = indexes.size if isinstance(positions, slice) else positions.size
            coded[positions] = decoder.decode(self._model(table), count)
        offsets = self.tables.offsets[indexes]
        sizes = self.tables.sizes[indexes]
        symbols = offsets + coded
        escaped = coded == sizes
        if escaped.any():
            z = decode_unsigned(decoder, int(escaped.sum())).astype(np.int64)
            excess, below = z >> 1, (z & 1).astype(bool)
            low = offsets[escaped]
            symbols[escaped] = np.where(below, low - 1 - excess, low + sizes[escaped] + excess)
        return symbols.reshape(shape)


class _ScaleIndexedFamily(IndexedFamily):
    """Table set over a log-spaced scale table; :meth:`scale_index` picks the nearest scale."""

    def __init__(self, tables: TableSet, scales: np.ndarray) -> None:
        super().__init__(tables)
        self.scales = scales
        self._log_low = float(np.log(scales[0]))
        self._log_step = float(np.log(scales[-1]) - np.log(scales[0])) / (len(scales) - 1)

    def scale_index(self, stds: np.ndarray) -> np.ndarray:
        """Nearest table (in log scale) for each standard deviation; encoder side only.

        stds: any shape, finite and > 0. Returns int64 indexes of the same shape; scales
        beyond the table use its first or last entry (escapes keep coding exact).
        """
        stds = np.asarray(stds, dtype=np.float64)
        valid = (stds > 0) & (stds < np.inf)  # False for NaN too
        if not valid.all():
            bad = stds[~valid].reshape(-1)[:3]
            raise InvalidParameterError(f"standard deviations must be finite and > 0, got {bad}")
        position = (np.log(stds) - self._log_low) * (1.0 / self._log_step) + 0.5
        np.clip(position, 0, len(self.scales) - 1, out=position)
        return position.astype(np.int64)


#: Scale table shared by the Gaussian and Laplace families (part of the format, never change).
SCALES_V1 = (0.11, 256.0, 160)


@functools.cache
def _gaussian_v1() -> tuple[TableSet, np.ndarray]:
    scales = log_scale_table(*SCALES_V1)
    return gaussian_table_set(scales), scales


@functools.cache
def _laplace_v1() -> tuple[TableSet, np.ndarray]:
    scales = log_scale_table(*SCALES_V1)
    return laplace_table_set(scales), scales


class IndexedGaussian(_ScaleIndexedFamily):
    """Zero-mean quantized Gaussian selected by scale index ("gaussian-v1": 160 log-spaced
    standard deviations from 0.11 to 256, 16-bit tables, tail mass 2**-20)."""

    table_id = "gaussian-v1"

    def __init__(self) -> None:
        super().__init__(*_gaussian_v1())


class IndexedLaplace(_ScaleIndexedFamily):
    """Zero-mean quantized Laplace law selected by scale index ("laplace-v1"; same scale
    table as :class:`IndexedGaussian`, scales are standard deviations)."""

    table_id = "laplace-v1"

    def __init__(self) -> None:
        super().__init__(*_laplace_v1())


def _check_rows(frequencies: np.ndarray, n_symbols: int) -> np.ndarray:
    """Validated (N, K) rows as float32 (exact: entries and row sums are below 2**24)."""
    rows = np.asarray(frequencies)
    if rows.dtype.kind not in "iu":
        raise InvalidParameterError(f"frequency rows must be integers, got {rows.dtype}")
    if rows.ndim != 2 or rows.shape[0] != n_symbols or rows.shape[1] < 2:
        raise InvalidParameterError(
            f"frequency rows must be (N={n_symbols}, K>=2), got shape {rows.shape}"
        )
    if rows.size and (rows.min() < 1 or rows.sum(axis=1, dtype=np.int64).max() > 1 << 24):
        raise InvalidParameterError("frequencies must be >= 1 with row sums <= 2**24")
    return rows.astype(np.float32)


class CategoricalRows:
    """One categorical distribution per symbol, given as positive integer frequency rows.

    Use :func:`entropy.tables.quantize_probabilities` to turn model probabilities into rows.
    Symbols must lie in 0..K-1 (a categorical alphabet has no outside: anything else is an
    error, not an escape). constriction normalizes each row itself (exactly, see the
    package docstring).
    """

    _family = constriction.stream.model.Categorical(perfect=False)

    def encode(self, encoder: SymbolEncoder, symbols: np.ndarray, frequencies: np.ndarray) -> None:
        """symbols: (N,) ints in 0..K-1; frequencies: (N, K) integers >= 1, row sums <= 2**24."""
        symbols = _as_int64(symbols, "symbols")
        rows = _check_rows(frequencies, symbols.size)
        if symbols.size and (symbols.min() < 0 or symbols.max() >= rows.shape[1]):
            raise InvalidParameterError(f"symbols must lie in 0..{rows.shape[1] - 1}")
        encoder.encode(symbols, self._family, rows)

    def decode(self, decoder: SymbolDecoder, frequencies: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`encode`; returns (N,) int64."""
        rows = _check_rows(frequencies, np.shape(frequencies)[0])
        return decoder.decode(self._family, rows).astype(np.int64)


class IndexedRows:
    """A fixed table of integer frequency rows, validated once; each symbol is coded with
    the row its index names (context models whose rows are shipped with weights).

    Same rules as :class:`CategoricalRows`, without re-checking the rows on every call.
    """

    _family = constriction.stream.model.Categorical(perfect=False)

    def __init__(self, frequencies: np.ndarray) -> None:
        self.rows = _check_rows(frequencies, np.shape(frequencies)[0])
        self._models: dict[int, constriction.stream.model.Categorical] = {}

    def encode(self, encoder: SymbolEncoder, symbols: np.ndarray, rows: np.ndarray) -> None:
        """symbols: (N,) ints in 0..K-1; rows: (N,) row indexes."""
        symbols = _as_int64(symbols, "symbols")
        if symbols.size and (symbols.min() < 0 or symbols.max() >= self.rows.shape[1]):
            raise InvalidParameterError(f"symbols must lie in 0..{self.rows.shape[1] - 1}")
        encoder.encode(symbols, self._family, self.rows[rows])

    def decode(self, decoder: SymbolDecoder, rows: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`encode`; returns (N,) int64."""
        return decoder.decode(self._family, self.rows[rows]).astype(np.int64)

    def decode_one(self, decoder: SymbolDecoder, row: int) -> int:
        """One symbol with row ``row`` (the same model as :meth:`decode` builds for it, kept
        for the next symbol that uses that row: ~5x faster symbol by symbol)."""
        model = self._models.get(row)
        if model is None:
            model = constriction.stream.model.Categorical(self.rows[row], perfect=False)
            self._models[row] = model
        return decoder.decode_one(model)


class AdaptiveContextModel:
    """Adaptive categorical model per context, driven by integer counts.

    State: counts (n_contexts, alphabet_size) int64, all starting at ``initial`` (default
    ``increment // 2``, the Krichevsky-Trofimov estimate; a smaller start learns large sparse
    alphabets faster). Symbols are coded in
    blocks; every symbol of a block uses the counts as they were at the block's start, then the
    block's symbols add ``increment`` to their (context, symbol) count and a row whose total
    exceeds ``limit`` is halved (rounding up, so counts stay >= 1). Blocks start at
    ``first_block`` symbols and double up to ``block_size`` so the model learns quickly.
    Encoder and decoder must create the model with the same arguments and code the same
    sequence of calls. Contexts are known to the decoder before each call (they come from
    already decoded data), never from the symbols of the call itself.
    """

    def __init__(
        self,
        n_contexts: int,
        alphabet_size: int,
        *,
        increment: int = 32,
        limit: int = 1 << 22,
        first_block: int = 64,
        block_size: int = 8192,
        initial: int | None = None,
    ) -> None:
        if n_contexts < 1 or alphabet_size < 2 or increment < 1 or limit < 2 * alphabet_size:
            raise InvalidParameterError(
                "need n_contexts >= 1, alphabet_size >= 2, increment >= 1, limit >= 2*alphabet"
            )
        self.n_contexts, self.alphabet_size = n_contexts, alphabet_size
        self.increment, self.limit = increment, limit
        self.first_block, self.block_size = first_block, block_size
        if initial is None:
            initial = max(1, increment // 2)
        if initial < 1:
            raise InvalidParameterError("initial count must be >= 1")
        self.counts = np.full((n_contexts, alphabet_size), initial, np.int64)
        self._coded = 0

    def _contexts(self, contexts: np.ndarray | None, count: int) -> np.ndarray:
        if contexts is None:
            return np.zeros(count, dtype=np.int64)
        contexts = _as_int64(contexts, "contexts")
        if contexts.size != count:
            raise InvalidParameterError(f"{count} symbols but {contexts.size} contexts")
        if contexts.size and (contexts.min() < 0 or contexts.max() >= self.n_contexts):
            raise InvalidParameterError(f"contexts must lie in 0..{self.n_contexts - 1}")
        return contexts

    def _blocks(self, count: int):
        start = 0
        while start < count:
            size = min(max(self.first_block, self._coded), self.block_size)
            end = min(count, start + size)
            yield start, end
            self._coded += end - start
            start = end

    def _update(self, contexts: np.ndarray, symbols: np.ndarray) -> None:
        cells = self.counts.size
        if cells <= 4 * contexts.size:  # a dense histogram is cheaper than scattered adds
            hits = np.bincount(contexts * self.alphabet_size + symbols, minlength=cells)
            self.counts += self.increment * hits.reshape(self.counts.shape)
        else:
            np.add.at(self.counts, (contexts, symbols), self.increment)
        touched = np.flatnonzero(np.bincount(contexts, minlength=self.n_contexts))
        full = touched[self.counts[touched].sum(axis=1) > self.limit]
        if full.size:
            self.counts[full] = (self.counts[full] + 1) >> 1

    def encode(
        self, encoder: SymbolEncoder, symbols: np.ndarray, contexts: np.ndarray | None = None
    ) -> None:
        """symbols: (N,) ints in 0..alphabet_size-1; contexts: (N,) ints or None (context 0)."""
        symbols = _as_int64(symbols, "symbols")
        contexts = self._contexts(contexts, symbols.size)
        if symbols.size and (symbols.min() < 0 or symbols.max() >= self.alphabet_size):
            raise InvalidParameterError(f"symbols must lie in 0..{self.alphabet_size - 1}")
        for start, end in self._blocks(symbols.size):
            ctx, sym = contexts[start:end], symbols[start:end]
            table = self.counts.astype(np.float64)  # one conversion per block, not per row
            for context, positions in _group(ctx, self.n_contexts):
                encoder.encode(sym[positions], _CATEGORICAL(table[context], perfect=False))
            self._update(ctx, sym)

    def decode(
        self, decoder: SymbolDecoder, count: int, contexts: np.ndarray | None = None
    ) -> np.ndarray:
        """Inverse of :meth:`encode` for ``count`` symbols; returns (count,) int64."""
        contexts = self._contexts(contexts, count)
        out = np.empty(count, dtype=np.int64)
        for start, end in self._blocks(count):
            ctx, sym = contexts[start:end], out[start:end]
            table = self.counts.astype(np.float64)
            for context, positions in _group(ctx, self.n_contexts):
                count = sym.size if isinstance(positions, slice) else positions.size
                sym[positions] = decoder.decode(_CATEGORICAL(table[context], perfect=False), count)
            self._update(ctx, sym)
        return out

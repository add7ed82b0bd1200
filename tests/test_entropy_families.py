"""Round trips and parameter validation of every distribution family, on both streams."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from codec.errors import BitstreamError, InvalidParameterError
from entropy import (
    AdaptiveContextModel,
    CategoricalRows,
    IndexedFamily,
    IndexedGaussian,
    IndexedLaplace,
    IndexedRows,
    StreamKind,
    SymbolDecoder,
    SymbolEncoder,
    TableSet,
    quantize_probabilities,
)
from entropy.tables import gaussian_table_set

STREAMS = st.sampled_from(list(StreamKind))
GAUSSIAN, LAPLACE = IndexedGaussian(), IndexedLaplace()
BIG = 2**61


def roundtrip(stream, encode, decode):
    encoder = SymbolEncoder(stream)
    encode(encoder)
    data = encoder.to_bytes()
    decoder = SymbolDecoder(data, stream)
    out = decode(decoder)
    decoder.finish()
    return out, data


symbol_arrays = hnp.arrays(
    np.int64,
    st.integers(0, 300),
    elements=st.one_of(st.integers(-30, 30), st.integers(-BIG, BIG)),
)


@settings(max_examples=60, deadline=None)
@given(
    symbols=symbol_arrays,
    log_std=st.floats(-14, 14),
    spread=st.floats(0, 6),
    family=st.sampled_from([GAUSSIAN, LAPLACE]),
    stream=STREAMS,
    seed=st.integers(0, 2**32 - 1),
)
def test_scale_families_roundtrip_any_scale_and_outliers(
    symbols, log_std, spread, family, stream, seed
):
    rng = np.random.default_rng(seed)
    stds = np.exp(log_std + spread * rng.standard_normal(symbols.size))  # 1e-6 .. 1e6 and beyond
    indexes = family.scale_index(stds)
    out, _ = roundtrip(
        stream,
        lambda enc: family.encode(enc, symbols, indexes),
        lambda dec: family.decode(dec, indexes),
    )
    np.testing.assert_array_equal(out, symbols)


@settings(max_examples=40, deadline=None)
@given(
    n_tables=st.integers(1, 8),
    stream=STREAMS,
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 400),
)
def test_factorized_tables_roundtrip_with_escapes(n_tables, stream, seed, n):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 40, n_tables)
    pmfs = [rng.dirichlet(np.full(size, 0.3)) for size in sizes]
    offsets = rng.integers(-50, 50, n_tables)
    tables = TableSet.from_probabilities(pmfs, offsets, rng.uniform(1e-9, 0.1, n_tables))
    family = IndexedFamily(tables)
    indexes = rng.integers(0, n_tables, n)
    symbols = offsets[indexes] + rng.integers(-60, 100, n)  # many outside the table ranges
    out, _ = roundtrip(
        stream,
        lambda enc: family.encode(enc, symbols, indexes),
        lambda dec: family.decode(dec, indexes),
    )
    np.testing.assert_array_equal(out, symbols)


@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(2, 300),
    n=st.integers(0, 300),
    precision=st.integers(10, 24),
    stream=STREAMS,
    seed=st.integers(0, 2**32 - 1),
)
def test_categorical_rows_roundtrip(k, n, precision, stream, seed):
    if k > 2 ** (precision - 1):
        return
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(k, 0.2), n) * (rng.random((n, k)) > 0.3)  # exact zeros too
    probs[:, 0] += 1e-300
    rows = quantize_probabilities(probs, precision)
    assert rows.min(initial=1) >= 1
    assert np.all(rows.sum(axis=1) == 2**precision)
    symbols = rng.integers(0, k, n)
    out, _ = roundtrip(
        stream,
        lambda enc: CategoricalRows().encode(enc, symbols, rows),
        lambda dec: CategoricalRows().decode(dec, rows),
    )
    np.testing.assert_array_equal(out, symbols)


@settings(max_examples=30, deadline=None)
@given(
    n_ctx=st.integers(1, 20),
    k=st.integers(2, 256),
    lengths=st.lists(st.integers(0, 3000), min_size=1, max_size=4),
    stream=STREAMS,
    seed=st.integers(0, 2**32 - 1),
)
def test_adaptive_model_roundtrip_over_several_calls(n_ctx, k, lengths, stream, seed):
    rng = np.random.default_rng(seed)
    calls = [(rng.integers(0, k, n) ** 2 % k, rng.integers(0, n_ctx, n)) for n in lengths]

    def encode(enc):
        model = AdaptiveContextModel(n_ctx, k, limit=4096)
        for symbols, contexts in calls:
            model.encode(enc, symbols, contexts)

    def decode(dec):
        model = AdaptiveContextModel(n_ctx, k, limit=4096)
        return [model.decode(dec, len(s), c) for s, c in calls]

    outs, _ = roundtrip(stream, encode, decode)
    for out, (symbols, _) in zip(outs, calls, strict=True):
        np.testing.assert_array_equal(out, symbols)


@pytest.mark.parametrize("stream", list(StreamKind))
def test_families_interleave_in_one_stream_and_encoding_is_deterministic(stream):
    rng = np.random.default_rng(7)
    q = rng.integers(-100, 100, 500)
    idx = rng.integers(0, 160, 500)
    rows = quantize_probabilities(rng.dirichlet(np.ones(9), 50))
    cat = rng.integers(0, 9, 50)
    byte_values = rng.integers(0, 256, 2000)

    def encode(enc):
        GAUSSIAN.encode(enc, q, idx)
        CategoricalRows().encode(enc, cat, rows)
        AdaptiveContextModel(1, 256).encode(enc, byte_values)
        LAPLACE.encode(enc, -q, idx)

    def decode(dec):
        return (
            GAUSSIAN.decode(dec, idx),
            CategoricalRows().decode(dec, rows),
            AdaptiveContextModel(1, 256).decode(dec, 2000),
            LAPLACE.decode(dec, idx),
        )

    (a, b, c, d), data = roundtrip(stream, encode, decode)
    for got, want in zip((a, b, c, d), (q, cat, byte_values, -q), strict=True):
        np.testing.assert_array_equal(got, want)
    _, again = roundtrip(stream, encode, decode)
    assert again == data


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), -float("inf")])
def test_invalid_std_raises_clear_error(bad):
    with pytest.raises(InvalidParameterError, match="finite and > 0"):
        GAUSSIAN.scale_index(np.array([1.0, bad]))


def test_invalid_parameters_are_rejected_before_constriction():
    enc = SymbolEncoder()
    with pytest.raises(InvalidParameterError, match="table index"):
        GAUSSIAN.encode(enc, np.array([1]), np.array([160]))
    with pytest.raises(InvalidParameterError, match="2\\*\\*62"):
        GAUSSIAN.encode(enc, np.array([2**62]), np.array([0]))
    with pytest.raises(InvalidParameterError, match="integers"):
        GAUSSIAN.encode(enc, np.array([1.5]), np.array([0]))
    with pytest.raises(InvalidParameterError, match="finite"):
        quantize_probabilities(np.array([[0.5, np.nan]]))
    with pytest.raises(InvalidParameterError, match="finite"):
        quantize_probabilities(np.array([0.5, -0.1]))
    with pytest.raises(InvalidParameterError, match="sums to zero"):
        quantize_probabilities(np.zeros((2, 3)))
    with pytest.raises(InvalidParameterError, match="0..2"):
        CategoricalRows().encode(enc, np.array([3]), np.array([[1, 1, 1]]))
    with pytest.raises(InvalidParameterError, match=">= 1"):
        CategoricalRows().encode(enc, np.array([0]), np.array([[0, 1, 1]]))
    with pytest.raises(InvalidParameterError, match="contexts"):
        AdaptiveContextModel(2, 4).encode(enc, np.array([1]), np.array([2]))
    with pytest.raises(InvalidParameterError, match="0..3"):
        AdaptiveContextModel(2, 4).encode(enc, np.array([4]))
    with pytest.raises(InvalidParameterError, match="scales"):
        gaussian_table_set(np.array([1.0, 0.0]))
    with pytest.raises(InvalidParameterError, match="finite"):
        TableSet.from_probabilities([np.array([1.0])], [0], [-1.0])


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=64), stream=STREAMS)
def test_decoding_garbage_gives_symbols_or_bitstream_error(data, stream):
    indexes = np.arange(160)
    try:
        decoder = SymbolDecoder(data, stream)
        GAUSSIAN.decode(decoder, indexes)
        decoder.finish()
    except BitstreamError:
        pass


def test_indexed_rows_round_trip_and_range_check():
    rows = np.array([[1, 2, 3, 4], [10, 1, 1, 1], [1, 1, 1, 100]])
    table = IndexedRows(rows)
    symbols, index = np.array([0, 3, 2, 0, 3]), np.array([1, 2, 0, 1, 2])
    for kind in StreamKind:
        encoder = SymbolEncoder(kind)
        table.encode(encoder, symbols, index)
        decoder = SymbolDecoder(encoder.to_bytes(), kind)
        assert np.array_equal(table.decode(decoder, index), symbols)
        decoder.finish()
    encoder = SymbolEncoder(StreamKind.RANGE)  # a queue: symbol by symbol, same order
    table.encode(encoder, symbols, index)
    decoder = SymbolDecoder(encoder.to_bytes(), StreamKind.RANGE)
    assert [table.decode_one(decoder, i) for i in index.tolist()] == symbols.tolist()
    decoder.finish()
    with pytest.raises(InvalidParameterError):
        table.encode(SymbolEncoder(), np.array([4]), np.array([0]))
    with pytest.raises(InvalidParameterError):
        IndexedRows(np.array([[0, 1]]))


@pytest.mark.parametrize("family", [GAUSSIAN, LAPLACE])
def test_code_lengths_add_up_to_the_coded_size(family):
    rng = np.random.default_rng(7)
    stds = np.exp(rng.uniform(-2, 5, 20_000))
    indexes = family.scale_index(stds)
    symbols = np.round(rng.standard_normal(stds.size) * stds).astype(np.int64)
    symbols[::997] = rng.integers(-(10**9), 10**9, symbols[::997].size)  # escapes
    lengths = family.code_lengths(symbols, indexes)
    encoder = SymbolEncoder()
    family.encode(encoder, symbols, indexes)
    coded_bits = 8 * len(encoder.to_bytes())
    assert lengths.shape == symbols.shape and np.isfinite(lengths).all()
    assert abs(coded_bits - lengths.sum()) <= 0.0005 * coded_bits + 64
    zero = family.tables.frequencies[indexes[0]][-family.tables.offsets[indexes[0]]]
    assert family.code_lengths(np.zeros(1, np.int64), indexes[:1])[0] == pytest.approx(
        family.tables.precision - np.log2(zero)
    )

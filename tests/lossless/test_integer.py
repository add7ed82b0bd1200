"""Integer circuit: exact, schedule-independent conditionals close to the float model, and
bit-exact coding round trips (one stream per batch and one per image)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.errors import InvalidParameterError
from entropy import quantize_counts
from models.lossless.circuit import HCLT
from models.lossless.coding import decode_pixels, decode_streams, encode_pixels, encode_streams
from models.lossless.conditionals import conditionals_sequential
from models.lossless.integer import IntegerConditionals, quantize_circuit, tables_from_arrays
from models.lossless.structure import chow_liu_tree
from tests.conftest import run_python
from tests.lossless.test_circuit import correlated_data

D = 12


def trained(basis: int) -> tuple[HCLT, np.ndarray]:
    data = correlated_data(n=500, d=D, seed=5)
    circuit = HCLT(chow_liu_tree(data), hidden=6, basis=basis, seed=1)
    x = torch.from_numpy(data.astype(np.int64))
    for _ in range(4):
        circuit.em_step(x, step=0.5)
    return circuit, data


@pytest.fixture(scope="module", params=[0, 8], ids=["full-emission", "basis"])
def model(request):
    circuit, data = trained(request.param)
    arrays = quantize_circuit(circuit.tree.parent, [p.numpy() for p in circuit.parameters()])
    return circuit, tables_from_arrays(arrays), data


def test_quantize_counts_is_exact_integer_arithmetic():
    counts = np.array([[0, 1, 2**62 - 7, 5], [3, 3, 3, 3], [1, 0, 0, 0]], dtype=np.int64)
    freq = quantize_counts(counts, 24)
    assert freq.dtype == np.int32 and (freq >= 1).all()
    assert (freq.sum(axis=1) == 1 << 24).all()
    assert (freq[1] == 1 << 22).all() and freq[2, 0] == (1 << 24) - 3
    with pytest.raises(InvalidParameterError, match="all zero"):
        quantize_counts(np.zeros((1, 4), dtype=np.int64))
    with pytest.raises(InvalidParameterError, match="integers"):
        quantize_counts(np.ones((1, 4)))


def test_integer_conditionals_follow_the_float_model(model):
    circuit, tables, data = model
    x = data[:8]
    floats = conditionals_sequential(circuit, torch.from_numpy(x.astype(np.int64)), range(D))
    floats = floats.exp().numpy()
    state = IntegerConditionals(tables, len(x))
    float_bits = int_bits = 0.0
    for i in range(D):
        p = state.frequencies(i) / float(1 << 24)
        assert np.abs(p - floats[:, i]).max() < 2e-3
        rows = np.arange(len(x))
        int_bits -= np.log2(p[rows, x[:, i]]).sum()
        float_bits -= np.log2(floats[rows, i, x[:, i]]).sum()
        state.observe(i, x[:, i].astype(np.int64))
    assert abs(int_bits - float_bits) < 1e-3 * float_bits


def test_tables_do_not_depend_on_the_schedule(model):
    """Lazy sequential updates give the integers of a fresh state with the same evidence."""
    _, tables, data = model
    x = data[:3].astype(np.int64)
    sequential = IntegerConditionals(tables, 3)
    for i in range(D):
        expected = sequential.frequencies(i)
        fresh = IntegerConditionals(tables, 3)
        for j in reversed(range(i)):
            fresh.observe(j, x[:, j])
        assert np.array_equal(fresh.frequencies(i), expected)
        sequential.observe(i, x[:, i])


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_round_trips_are_bit_exact(data):
    circuit, _ = trained(8)
    tables = tables_from_arrays(
        quantize_circuit(circuit.tree.parent, [p.numpy() for p in circuit.parameters()])
    )
    batch = data.draw(st.integers(1, 4))
    pixels = np.array(
        data.draw(st.lists(st.integers(0, 255), min_size=batch * D, max_size=batch * D)),
        dtype=np.uint8,
    ).reshape(batch, D)
    order = data.draw(st.permutations(range(D)))[: data.draw(st.integers(1, D))]
    stream = encode_pixels(tables, pixels, order)
    decoded = decode_pixels(tables, stream, batch, order)
    assert np.array_equal(decoded[:, order], pixels[:, order])
    streams = encode_streams(tables, pixels, order)
    assert streams[0] == encode_pixels(tables, pixels[:1], order)
    assert np.array_equal(decode_streams(tables, streams, order)[:, order], pixels[:, order])


def _table_digest(saved, threads: int) -> str:
    """Digest of all conditional tables of 64 images, computed in a fresh process from the
    integer parameters in ``saved`` (so only the integer inference differs between runs)."""
    script = (
        "import hashlib, numpy as np\n"
        "from models.lossless.integer import IntegerConditionals, tables_from_arrays\n"
        f"saved = np.load({str(saved)!r})\n"
        "t = tables_from_arrays({k: saved[k] for k in saved.files if k != 'data'})\n"
        "s = IntegerConditionals(t, 64); h = hashlib.sha256()\n"
        f"for i in range({D}):\n"
        "    h.update(s.frequencies(i).tobytes())\n"
        "    s.observe(i, saved['data'][:64, i].astype(np.int64))\n"
        "print(h.hexdigest())\n"
    )
    return run_python(script, threads)


def test_tables_are_identical_with_one_and_two_blas_threads(tmp_path):
    circuit, data = trained(8)
    arrays = quantize_circuit(circuit.tree.parent, [p.numpy() for p in circuit.parameters()])
    saved = tmp_path / "circuit.npz"
    np.savez(saved, data=data, **arrays)
    digest = _table_digest(saved, 1)
    assert len(digest) == len(hashlib.sha256().hexdigest())
    assert _table_digest(saved, 2) == digest


def test_med_residuals_invert_exactly():
    from models.lossless.predict import reconstruct, residuals

    rng = np.random.default_rng(4)
    for shape in ((1, 1), (1, 9), (7, 1), (13, 21)):
        plane = rng.integers(0, 256, shape).astype(np.uint8)
        assert np.array_equal(reconstruct(residuals(plane)), plane)
    smooth = np.add.outer(np.arange(16), np.arange(16)).astype(np.uint8)
    assert (residuals(smooth)[1:, 1:] == 1).all()  # a ramp is predicted up to its slope

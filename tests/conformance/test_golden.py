"""Golden bitstreams: files written by tools/make_golden.py must keep decoding to the same
content on every platform, and re-encoding their inputs must reproduce them byte for byte."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import codec
from entropy import IndexedGaussian, IndexedLaplace, StreamKind
from tests.conformance.golden import (
    ENTROPY_FILES,
    RAW_FILE,
    decode_entropy,
    encode_entropy,
    entropy_inputs,
    raw_input,
)

# SHA-256 of the integer table sets: part of the format. A mismatch means this platform built
# different tables and would write files other machines cannot decode.
TABLE_DIGESTS = {
    "gaussian-v1": "e57812a885de1c94e197f40b921c941fae4d4292798f8d915ffb63d3f56d447a",
    "laplace-v1": "16bc1610df4785ba2ff4b58b3763f8b10b2e81b7a677c0508e0275712596fae3",
}
RAW_DECODED_SHA256 = "51f55d1a5bb2fc9fe702c8c352a87f293c495f73679ea4466b918a24ca44cf00"


@pytest.mark.parametrize("family", [IndexedGaussian, IndexedLaplace])
def test_fixed_table_sets_are_bit_identical(family):
    assert family().tables.digest() == TABLE_DIGESTS[family.table_id]


@pytest.mark.parametrize("stream", list(StreamKind))
def test_golden_entropy_stream_decodes_and_reencodes_identically(stream):
    golden = ENTROPY_FILES[stream].read_bytes()
    decoded = decode_entropy(golden, stream)
    x = entropy_inputs()
    np.testing.assert_array_equal(decoded["q"], x["q"])
    np.testing.assert_array_equal(decoded["minus_q"], -x["q"])
    np.testing.assert_array_equal(decoded["cat_symbols"], x["cat_symbols"])
    np.testing.assert_array_equal(decoded["bytes"], x["bytes"])
    assert encode_entropy(stream) == golden


def test_golden_raw_container_decodes_to_recorded_hash():
    decoded = codec.decode(RAW_FILE.read_bytes())
    assert decoded.kind == "raw"
    assert hashlib.sha256(decoded.media).hexdigest() == RAW_DECODED_SHA256
    assert codec.encode(raw_input(), kind="raw") == RAW_FILE.read_bytes()

"""Lossless golden files decode to the recorded pixels with 1 and 2 BLAS threads (in fresh
processes: the thread count is fixed when numpy loads), and re-encode to the same bytes."""

from __future__ import annotations

import json

import numpy as np
import pytest

import codec
from tests.conformance.golden import (
    LOSSLESS_EXPECTED,
    LOSSLESS_FILES,
    lossless_inputs,
    pixel_hash,
)
from tests.conftest import run_python

EXPECTED = json.loads(LOSSLESS_EXPECTED.read_text())


@pytest.mark.parametrize("name", sorted(LOSSLESS_FILES))
def test_golden_lossless_reencodes_identically(name):
    array = lossless_inputs()[name]
    golden = LOSSLESS_FILES[name].read_bytes()
    assert codec.encode(array, kind="lossless") == golden
    assert np.array_equal(codec.decode(golden).media, array)
    assert pixel_hash(array) == EXPECTED[name]["pixels_sha256"]


@pytest.mark.parametrize("threads", [1, 2])
def test_golden_lossless_decodes_with_any_thread_count(threads):
    script = (
        "import json, codec\n"
        "from tests.conformance.golden import LOSSLESS_FILES, pixel_hash\n"
        "print(json.dumps({n: pixel_hash(codec.decode(p.read_bytes()).media)"
        " for n, p in LOSSLESS_FILES.items()}))\n"
    )
    decoded = json.loads(run_python(script, threads))
    assert decoded == {name: entry["pixels_sha256"] for name, entry in EXPECTED.items()}

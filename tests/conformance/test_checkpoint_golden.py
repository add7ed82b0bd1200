"""Checkpoint golden bitstreams decode to the recorded tensor hashes, and re-encode identically."""

from __future__ import annotations

import json

import pytest

import codec
from tests.conformance.golden import (
    CHECKPOINT_EXPECTED,
    CHECKPOINT_FILES,
    checkpoint_inputs,
    checkpoint_tensor_hashes,
    torch_threads,
)

EXPECTED = json.loads(CHECKPOINT_EXPECTED.read_text())


@pytest.mark.parametrize("name", sorted(CHECKPOINT_FILES))
@pytest.mark.parametrize("threads", [1, 2])
def test_golden_checkpoint_decodes_to_recorded_hashes(name, threads):
    previous, current = checkpoint_inputs()
    reference = None if name == "alone" else previous
    golden = CHECKPOINT_FILES[name].read_bytes()
    with torch_threads(threads):
        decoded = codec.decode(golden, reference=reference).media
    assert checkpoint_tensor_hashes(decoded) == EXPECTED[name]["tensors_sha256"]
    if name != "near_lossless":
        assert checkpoint_tensor_hashes(decoded) == checkpoint_tensor_hashes(current)
    near = {"max_error": 1e-2, "state_error": 0.1} if name == "near_lossless" else {}
    assert codec.encode(current, kind="checkpoint", reference=reference, **near) == golden

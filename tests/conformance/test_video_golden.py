"""The golden video bitstreams (samples/orbits_160x96.mp4 in nerv mode and in hyper mode):
the same symbols on every machine, frames within one step of the reference decode, identical
with 1 and 2 torch threads."""

from __future__ import annotations

import json

import pytest

from tests.conformance.golden import (
    VIDEO_EXPECTED,
    VIDEO_FILE,
    VIDEO_HYPER_EXPECTED,
    VIDEO_HYPER_FILE,
    VIDEO_OUTPUT,
    assert_near_reference,
    decode_traced,
)


@pytest.mark.parametrize(
    ("path", "expected_path"),
    [(VIDEO_FILE, VIDEO_EXPECTED), (VIDEO_HYPER_FILE, VIDEO_HYPER_EXPECTED)],
    ids=["nerv", "hyper"],
)
def test_video_golden_decodes_to_its_symbols_and_reference_frames(path, expected_path):
    expected = json.loads(expected_path.read_text())
    blob = path.read_bytes()
    assert len(blob) == expected["bytes"]
    header, decoded, symbols = decode_traced(blob, VIDEO_OUTPUT)
    assert header.weights_id == expected["weights_id"]
    assert symbols == expected["symbols_sha256"]
    assert decoded.shape == tuple(expected["shape"])
    assert_near_reference(path, VIDEO_OUTPUT, decoded)

"""The golden video bitstreams (samples/orbits_160x96.mp4 in nerv mode and in hyper mode)
decode to the recorded frames with 1 and 2 torch threads."""

from __future__ import annotations

import json

import pytest

import codec
from tests.conformance.golden import (
    VIDEO_EXPECTED,
    VIDEO_FILE,
    VIDEO_HYPER_EXPECTED,
    VIDEO_HYPER_FILE,
    frames_hash,
    torch_threads,
)


@pytest.mark.parametrize(
    ("path", "expected_path"),
    [(VIDEO_FILE, VIDEO_EXPECTED), (VIDEO_HYPER_FILE, VIDEO_HYPER_EXPECTED)],
    ids=["nerv", "hyper"],
)
def test_video_golden_decodes_to_recorded_frames_with_one_and_two_threads(path, expected_path):
    expected = json.loads(expected_path.read_text())
    blob = path.read_bytes()
    assert len(blob) == expected["bytes"]
    for n in (1, 2):
        with torch_threads(n):
            assert frames_hash(codec.decode(blob).media) == expected["frames_sha256"]

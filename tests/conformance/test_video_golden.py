"""The golden video bitstream (samples/orbits_160x96.mp4, nerv mode) decodes to the recorded
frames with 1 and 2 torch threads."""

from __future__ import annotations

import json

import codec
from tests.conformance.golden import VIDEO_EXPECTED, VIDEO_FILE, frames_hash, torch_threads


def test_video_golden_decodes_to_recorded_frames_with_one_and_two_threads():
    expected = json.loads(VIDEO_EXPECTED.read_text())
    blob = VIDEO_FILE.read_bytes()
    assert len(blob) == expected["bytes"]
    for n in (1, 2):
        with torch_threads(n):
            assert frames_hash(codec.decode(blob).media) == expected["frames_sha256"]

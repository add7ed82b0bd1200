"""Golden image bitstreams (one per quality of the shipped weights) decode to the recorded
pixels, with 1 and 2 torch threads."""

from __future__ import annotations

import hashlib
import json

import pytest

import codec
from tests.conformance.golden import IMAGE_EXPECTED, IMAGE_QUALITIES, image_file, torch_threads

EXPECTED = json.loads(IMAGE_EXPECTED.read_text())


@pytest.mark.parametrize("quality", IMAGE_QUALITIES)
def test_image_golden_decodes_to_recorded_hash_with_one_and_two_threads(quality):
    blob = image_file(quality).read_bytes()
    expected = EXPECTED[str(quality)]
    for n in (1, 2):
        with torch_threads(n):
            decoded = codec.decode(blob)
        assert decoded.header.weights_id == expected["weights_id"]
        assert hashlib.sha256(decoded.media.tobytes()).hexdigest() == expected["decoded_sha256"]

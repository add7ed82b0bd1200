"""Golden image bitstreams (one per quality of the shipped weights): the same symbols on every
machine, pixels within one step of the reference decode, identical with 1 and 2 torch threads."""

from __future__ import annotations

import json

import pytest

from models.image.codec import QUALITIES
from tests.conformance.golden import (
    IMAGE_EXPECTED,
    IMAGE_OUTPUT,
    assert_near_reference,
    decode_traced,
    image_file,
)

EXPECTED = json.loads(IMAGE_EXPECTED.read_text())


@pytest.mark.parametrize("quality", QUALITIES)
def test_image_golden_decodes_to_its_symbols_and_reference_pixels(quality):
    path = image_file(quality)
    expected = EXPECTED[str(quality)]
    header, pixels, symbols = decode_traced(path.read_bytes(), IMAGE_OUTPUT)
    assert header.weights_id == expected["weights_id"]
    assert symbols == expected["symbols_sha256"]
    assert_near_reference(path, IMAGE_OUTPUT, pixels)

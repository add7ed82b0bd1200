"""Golden image bitstreams (one per quality of the shipped weights, in the compact container
form, and quality 6 again in the full form): the same symbols on every machine, pixels within
one step of the reference decode, identical with 1 and 2 torch threads."""

from __future__ import annotations

import json

import pytest

from codec.container import container_bytes
from models.image.codec import QUALITIES
from tests.conformance.golden import (
    IMAGE_EXPECTED,
    IMAGE_FULL_FORM,
    IMAGE_OUTPUT,
    assert_near_reference,
    container_parts,
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


def test_image_golden_in_the_full_form_holds_the_same_file():
    compact, full = image_file(6).read_bytes(), IMAGE_FULL_FORM.read_bytes()
    assert compact[:3] == b"NCc" and full[:4] == b"NCDC"
    parts = container_parts(full)
    assert parts == container_parts(compact)
    # the writer lays out both forms byte for byte as pinned here
    assert container_bytes(*parts) == compact
    assert container_bytes(*parts, compact=False) == full
    _, pixels, symbols = decode_traced(full, IMAGE_OUTPUT)
    assert symbols == EXPECTED["6"]["symbols_sha256"]
    assert_near_reference(image_file(6), IMAGE_OUTPUT, pixels)

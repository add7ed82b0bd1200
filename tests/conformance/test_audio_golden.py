"""Golden audio bitstreams (samples/melody_22k.flac through each shipped mode): the same
symbols on every machine, 16-bit PCM within one step of the reference decode, identical with 1
and 2 torch threads; the encoder writes them again byte for byte; a file from before
``side_decimation`` (side coded at 24 kHz) still decodes."""

from __future__ import annotations

import json

import pytest

import codec
from tests.conformance.golden import (
    AUDIO_CASES,
    AUDIO_EXPECTED,
    AUDIO_FILES,
    AUDIO_INPUT,
    AUDIO_LEGACY,
    AUDIO_LEGACY_EXPECTED,
    AUDIO_OUTPUT,
    assert_near_reference,
    decode_traced,
)

EXPECTED = json.loads(AUDIO_EXPECTED.read_text())


GOLDEN = {name: (AUDIO_FILES[name], EXPECTED[name]) for name in AUDIO_CASES}
GOLDEN.update(
    (name, (AUDIO_LEGACY, expected))
    for name, expected in json.loads(AUDIO_LEGACY_EXPECTED.read_text()).items()
)


@pytest.mark.parametrize("name", GOLDEN)
def test_audio_golden_decodes_to_its_symbols_and_reference_pcm(name):
    path, expected = GOLDEN[name]
    header, samples, symbols = decode_traced(path.read_bytes(), AUDIO_OUTPUT)
    assert header.weights_id == expected["weights_id"]
    assert symbols == expected["symbols_sha256"]
    assert samples.shape == tuple(expected["shape"])
    assert_near_reference(path, AUDIO_OUTPUT, samples)


@pytest.mark.parametrize("name", AUDIO_CASES)
def test_audio_encoder_reproduces_the_golden_bytes(name, tmp_path):
    mode, bitrate = AUDIO_CASES[name]
    out = tmp_path / "again.ncdc"
    codec.encode_file(AUDIO_INPUT, out, mode=mode, bitrate=bitrate)
    assert out.read_bytes() == AUDIO_FILES[name].read_bytes()

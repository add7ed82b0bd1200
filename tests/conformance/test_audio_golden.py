"""Golden audio bitstreams (samples/melody_22k.flac through each shipped mode) decode to the
recorded 16-bit PCM with 1 and 2 torch threads, and the encoder writes them again byte for byte;
a file from before ``side_decimation`` (side coded at 24 kHz) still decodes to its PCM."""

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
    pcm_hash,
    torch_threads,
)

EXPECTED = json.loads(AUDIO_EXPECTED.read_text())


GOLDEN = {name: (AUDIO_FILES[name], EXPECTED[name]) for name in AUDIO_CASES}
GOLDEN.update(
    (name, (AUDIO_LEGACY, expected))
    for name, expected in json.loads(AUDIO_LEGACY_EXPECTED.read_text()).items()
)


@pytest.mark.parametrize("name", GOLDEN)
def test_audio_golden_decodes_to_recorded_pcm_with_one_and_two_threads(name):
    path, expected = GOLDEN[name]
    blob = path.read_bytes()
    for n in (1, 2):
        with torch_threads(n):
            decoded = codec.decode(blob)
            assert decoded.header.weights_id == expected["weights_id"]
            assert pcm_hash(decoded.media) == expected["pcm_sha256"]


@pytest.mark.parametrize("name", AUDIO_CASES)
def test_audio_encoder_reproduces_the_golden_bytes(name, tmp_path):
    mode, bitrate = AUDIO_CASES[name]
    out = tmp_path / "again.ncdc"
    codec.encode_file(AUDIO_INPUT, out, mode=mode, bitrate=bitrate)
    assert out.read_bytes() == AUDIO_FILES[name].read_bytes()

"""The command line: exit codes, one-line errors, --force, atomic output, fast ``info``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from codec.cli import main
from tests.conftest import ROOT

SAMPLE = ROOT / "samples" / "mandelbrot_320x240.pgm"


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result, code: int, fragment: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert "Traceback" not in result.output


@pytest.fixture
def encoded(tmp_path):
    out = tmp_path / "s.ncdc"
    assert run("encode", SAMPLE, out, "--kind", "raw").exit_code == 0
    return out


def test_encode_decode_roundtrip_prints_summary(tmp_path, encoded):
    back = tmp_path / "back.pgm"
    result = run("decode", encoded, back)
    assert result.exit_code == 0 and "raw (raw-v1)" in result.output
    assert back.read_bytes() == SAMPLE.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.pgm", "s.ncdc"]


def test_kind_is_detected_and_unreadable_media_say_so(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello " * 100)
    assert run("encode", text, tmp_path / "t.ncdc").exit_code == 0
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(100))
    one_line_error(run("encode", clip, tmp_path / "x.ncdc"), 2, "clip.mp4: not a readable video")
    assert not (tmp_path / "x.ncdc").exists()


def test_no_overwrite_without_force(tmp_path, encoded):
    before = encoded.read_bytes()
    one_line_error(run("encode", SAMPLE, encoded, "--kind", "raw"), 2, "exists (use --force")
    assert encoded.read_bytes() == before
    target = tmp_path / "out.pgm"
    target.write_bytes(b"keep me")
    one_line_error(run("decode", encoded, target), 2, "exists")
    assert target.read_bytes() == b"keep me"
    assert run("decode", encoded, target, "--force").exit_code == 0
    assert target.read_bytes() == SAMPLE.read_bytes()


def test_bad_inputs_give_exit_code_2_and_one_line(tmp_path, encoded):
    one_line_error(run("encode", tmp_path / "missing.bin", tmp_path / "o"), 2, "does not exist")
    one_line_error(run("encode", tmp_path, tmp_path / "o"), 2, "folder of video frames")
    one_line_error(run("encode", encoded, tmp_path / "o"), 2, "already a codec file")
    one_line_error(
        run("encode", SAMPLE, tmp_path / "o", "--kind", "raw", "--quality", "3"), 2, "lossless"
    )
    one_line_error(run("decode", SAMPLE, tmp_path / "o"), 2, "not a codec file")
    one_line_error(run("info", SAMPLE), 2, "not a codec file")
    missing_dir = tmp_path / "no" / "dir" / "o"
    one_line_error(run("encode", SAMPLE, missing_dir, "--kind", "raw"), 2, "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.ncdc"]


def test_failed_decode_leaves_no_partial_output(tmp_path, encoded):
    data = bytearray(encoded.read_bytes())
    data[-1] ^= 0xFF  # last chunk's CRC fails only after the header was accepted
    broken = tmp_path / "broken.ncdc"
    broken.write_bytes(bytes(data))
    one_line_error(run("decode", broken, tmp_path / "out.pgm"), 2, "CRC mismatch")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.ncdc", "s.ncdc"]
    data = bytearray(encoded.read_bytes())
    one_line_error(run("info", _write(tmp_path / "cut.ncdc", data[:-3])), 2, "truncated")


def _write(path, data):
    path.write_bytes(bytes(data))
    return path


def test_info_lists_header_fields(encoded):
    result = run("info", encoded)
    assert result.exit_code == 0
    assert "kind:        raw" in result.output and "size: 76815" in result.output
    result = run("info", encoded, "--json")
    assert '"codec_id": "raw-v1"' in result.output


def test_info_and_help_import_no_numerical_library(encoded):
    probe = (
        "import sys; from codec.cli import main\n"
        "for args in (['info', sys.argv[1]], ['--help']):\n"
        "    try: main(args)\n"
        "    except SystemExit as e: assert e.code == 0, e.code\n"
        "heavy = {'torch', 'numpy', 'constriction', 'compressai'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", probe, str(encoded)], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


def test_failed_encode_leaves_no_partial_output(tmp_path, monkeypatch):
    import models.raw.codec as raw_codec

    real, calls = raw_codec._encode_block, []

    def fail_on_second_block(block):
        calls.append(len(block))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(block)

    monkeypatch.setattr(raw_codec, "_encode_block", fail_on_second_block)
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * (raw_codec.BLOCK_BYTES // 128))
    result = run("encode", big, tmp_path / "big.ncdc")
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"]

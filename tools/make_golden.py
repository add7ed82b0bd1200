"""(Re)write the golden bitstreams in tests/conformance. Only run this for a *format change*
(with a CHANGELOG entry) or a new version of shipped weights: the files pin what decoders
must keep reading.

    python tools/make_golden.py [--no-image] [--no-audio] [--no-video] [--no-video-nerv]
                                [--keep-bitstreams]

``--no-video-nerv`` keeps the nerv-mode video golden (its fit is not reproducible) and
rewrites the hyper-mode one. Lossy goldens (image, audio, video) record the sha256 of their
entropy-decoded symbols and a reference decode (``*.ref.npy.xz``); ``--keep-bitstreams``
records those again from the files as they are, without encoding anything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import codec  # noqa: E402
from codec.container import container_bytes  # noqa: E402
from models.image.codec import QUALITIES  # noqa: E402
from tests.conformance.golden import (  # noqa: E402
    AUDIO_CASES,
    AUDIO_DIR,
    AUDIO_EXPECTED,
    AUDIO_FILES,
    AUDIO_INPUT,
    AUDIO_LEGACY,
    AUDIO_LEGACY_EXPECTED,
    AUDIO_OUTPUT,
    CHECKPOINT_DIR,
    CHECKPOINT_EXPECTED,
    CHECKPOINT_FILES,
    ENTROPY_FILES,
    IMAGE_DIR,
    IMAGE_EXPECTED,
    IMAGE_FULL_FORM,
    IMAGE_OUTPUT,
    LOSSLESS_DIR,
    LOSSLESS_EXPECTED,
    LOSSLESS_FILES,
    RAW_FILE,
    VIDEO_DIR,
    VIDEO_EXPECTED,
    VIDEO_FILE,
    VIDEO_HYPER_EXPECTED,
    VIDEO_HYPER_FILE,
    VIDEO_HYPER_OPTIONS,
    VIDEO_INPUT,
    VIDEO_OPTIONS,
    VIDEO_OUTPUT,
    LossyOutput,
    checkpoint_inputs,
    checkpoint_tensor_hashes,
    container_parts,
    decode_traced,
    encode_entropy,
    image_file,
    image_input,
    lossless_inputs,
    pixel_hash,
    raw_input,
    write_reference,
)


def record_lossy(path: Path, output: LossyOutput) -> dict:
    """Decode the golden at ``path``; write its reference next to it and return what
    expected.json holds for it."""
    header, array, symbols = decode_traced(path.read_bytes(), output)
    write_reference(path, output, array)
    return {
        "weights_id": header.weights_id,
        "symbols_sha256": symbols,
        "shape": list(array.shape),
        "bytes": path.stat().st_size,
    }


def make_image_goldens(keep: bool) -> None:
    """One file per quality of the shipped image weights, each with its full reference decode.

    Rerun after every change of models/weights/image-v1.safetensors.
    """
    IMAGE_DIR.mkdir(exist_ok=True)
    expected = {}
    for quality in QUALITIES:
        if not keep:
            image_file(quality).write_bytes(
                codec.encode(image_input(), kind="image", quality=quality)
            )
        expected[str(quality)] = record_lossy(image_file(quality), IMAGE_OUTPUT)
    if not keep:
        parts = container_parts(image_file(6).read_bytes())
        IMAGE_FULL_FORM.write_bytes(container_bytes(*parts, compact=False))
    IMAGE_EXPECTED.write_text(json.dumps(expected, indent=2) + "\n")
    print(f"image goldens: {json.dumps(expected)}")


def make_checkpoint_goldens() -> None:
    """Lossless alone, lossless against the previous state, near-lossless against it."""
    CHECKPOINT_DIR.mkdir(exist_ok=True)
    previous, current = checkpoint_inputs()
    blobs = {
        "alone": codec.encode(current, kind="checkpoint"),
        "reference": codec.encode(current, kind="checkpoint", reference=previous),
        "near_lossless": codec.encode(
            current, kind="checkpoint", reference=previous, max_error=1e-2, state_error=0.1
        ),
    }
    expected = {}
    for name, blob in blobs.items():
        CHECKPOINT_FILES[name].write_bytes(blob)
        decoded = codec.decode(blob, reference=previous if name != "alone" else None).media
        expected[name] = {"tensors_sha256": checkpoint_tensor_hashes(decoded), "bytes": len(blob)}
    CHECKPOINT_EXPECTED.write_text(json.dumps(expected, indent=2) + "\n")
    print(f"checkpoint goldens: { {k: v['bytes'] for k, v in expected.items()} }")


def make_lossless_goldens() -> None:
    LOSSLESS_DIR.mkdir(exist_ok=True)
    expected = {}
    for name, array in lossless_inputs().items():
        blob = codec.encode(array, kind="lossless")
        LOSSLESS_FILES[name].write_bytes(blob)
        expected[name] = {"pixels_sha256": pixel_hash(codec.decode(blob).media), "bytes": len(blob)}
    LOSSLESS_EXPECTED.write_text(json.dumps(expected, indent=1) + "\n")
    print(f"lossless goldens: { {k: v['bytes'] for k, v in expected.items()} }")


def make_audio_goldens(keep: bool) -> None:
    """samples/melody_22k.flac (stereo, 22.05 kHz) at each case of AUDIO_CASES, and the
    reference of the legacy file (never encoded again).

    Rerun after every change of models/weights/audio-v1.safetensors.
    """
    AUDIO_DIR.mkdir(exist_ok=True)
    expected = {}
    for name, (mode, bitrate) in AUDIO_CASES.items():
        if not keep:
            codec.encode_file(
                AUDIO_INPUT, AUDIO_FILES[name], mode=mode, bitrate=bitrate, force=True
            )
        expected[name] = record_lossy(AUDIO_FILES[name], AUDIO_OUTPUT)
    AUDIO_EXPECTED.write_text(json.dumps(expected, indent=2) + "\n")
    legacy = record_lossy(AUDIO_LEGACY, AUDIO_OUTPUT)
    AUDIO_LEGACY_EXPECTED.write_text(json.dumps({"legacy_full_side_rvq6": legacy}, indent=2) + "\n")
    print(f"audio goldens: { {k: v['bytes'] for k, v in expected.items()} }")


def make_video_goldens(nerv: bool, keep: bool) -> None:
    """samples/orbits_160x96.mp4 coded with VIDEO_HYPER_OPTIONS (hyper mode, the shipped
    weights) and, if ``nerv``, fitted with VIDEO_OPTIONS (nerv mode: the fit is not
    reproducible across machines (float training); the file and its decoded frames are)."""
    VIDEO_DIR.mkdir(exist_ok=True)
    goldens = [(VIDEO_HYPER_FILE, VIDEO_HYPER_EXPECTED, VIDEO_HYPER_OPTIONS)]
    if nerv:
        goldens.append((VIDEO_FILE, VIDEO_EXPECTED, VIDEO_OPTIONS))
    for path, expected_path, options in goldens:
        if not keep:
            codec.encode_file(VIDEO_INPUT, path, force=True, **options)
        expected = record_lossy(path, VIDEO_OUTPUT)
        expected_path.write_text(json.dumps(expected, indent=2) + "\n")
        print(f"video golden {path.name}: {expected}")


def make_lossless_format_goldens() -> None:
    """Entropy streams, raw, checkpoint and lossless image files (integer paths only)."""
    for stream, path in ENTROPY_FILES.items():
        path.write_bytes(encode_entropy(stream))
        print(f"{path.name}: sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")
    RAW_FILE.write_bytes(codec.encode(raw_input(), kind="raw"))
    print(f"{RAW_FILE.name}: sha256 {hashlib.sha256(RAW_FILE.read_bytes()).hexdigest()}")
    print(f"raw input sha256 {hashlib.sha256(raw_input()).hexdigest()}")
    make_checkpoint_goldens()
    make_lossless_goldens()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-image", action="store_true", help="leave the image goldens")
    parser.add_argument("--no-audio", action="store_true", help="leave the audio goldens")
    parser.add_argument("--no-video", action="store_true", help="leave both video goldens")
    parser.add_argument(
        "--no-video-nerv", action="store_true", help="leave the nerv-mode video golden"
    )
    parser.add_argument(
        "--keep-bitstreams",
        action="store_true",
        help="encode nothing: record symbols and references of the files as they are",
    )
    args = parser.parse_args()
    keep = args.keep_bitstreams
    if not keep:
        make_lossless_format_goldens()
    if not args.no_image:
        make_image_goldens(keep)
    if not args.no_audio:
        make_audio_goldens(keep)
    if not args.no_video:
        make_video_goldens(nerv=not args.no_video_nerv, keep=keep)


if __name__ == "__main__":
    main()

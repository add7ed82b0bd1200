"""(Re)write the golden bitstreams in tests/conformance. Only run this for a *format change*
(with a CHANGELOG entry) or a new version of shipped weights: the files pin what decoders
must keep reading.

    python tools/make_golden.py
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import codec  # noqa: E402
from tests.conformance.golden import (  # noqa: E402
    ENTROPY_FILES,
    IMAGE_DIR,
    IMAGE_EXPECTED,
    IMAGE_QUALITIES,
    RAW_FILE,
    encode_entropy,
    image_file,
    image_input,
    raw_input,
)


def make_image_goldens() -> None:
    """One file per quality of the shipped image weights + sha256 of the decoded pixels.

    Rerun after every change of models/weights/image-v1.safetensors.
    """
    IMAGE_DIR.mkdir(exist_ok=True)
    expected = {}
    for quality in IMAGE_QUALITIES:
        blob = codec.encode(image_input(), kind="image", quality=quality)
        image_file(quality).write_bytes(blob)
        decoded = codec.decode(blob)
        expected[str(quality)] = {
            "weights_id": decoded.header.weights_id,
            "decoded_sha256": hashlib.sha256(decoded.media.tobytes()).hexdigest(),
            "bytes": len(blob),
        }
    IMAGE_EXPECTED.write_text(json.dumps(expected, indent=2) + "\n")
    print(f"image goldens: {json.dumps(expected)}")


if __name__ == "__main__":
    for stream, path in ENTROPY_FILES.items():
        path.write_bytes(encode_entropy(stream))
        print(f"{path.name}: sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")
    RAW_FILE.write_bytes(codec.encode(raw_input(), kind="raw"))
    print(f"{RAW_FILE.name}: sha256 {hashlib.sha256(RAW_FILE.read_bytes()).hexdigest()}")
    print(f"raw input sha256 {hashlib.sha256(raw_input()).hexdigest()}")
    make_image_goldens()

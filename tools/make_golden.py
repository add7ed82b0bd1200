"""(Re)write the golden bitstreams in tests/conformance. Only run this for a *format change*,
together with a CHANGELOG entry: the files pin what older decoders must keep reading.

    python tools/make_golden.py
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import codec  # noqa: E402
from tests.conformance.golden import (  # noqa: E402
    ENTROPY_FILES,
    RAW_FILE,
    encode_entropy,
    raw_input,
)

if __name__ == "__main__":
    for stream, path in ENTROPY_FILES.items():
        path.write_bytes(encode_entropy(stream))
        print(f"{path.name}: sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")
    RAW_FILE.write_bytes(codec.encode(raw_input(), kind="raw"))
    print(f"{RAW_FILE.name}: sha256 {hashlib.sha256(RAW_FILE.read_bytes()).hexdigest()}")
    print(f"raw input sha256 {hashlib.sha256(raw_input()).hexdigest()}")

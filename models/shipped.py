"""Identity of shipped weights files: ``name@<first 12 hex digits of the file's SHA-256>``.

Every codec with weights writes this id in the container header and refuses files made with
other weights; tools/ use it when exporting.
"""

from __future__ import annotations

import hashlib
import json

from codec.errors import BitstreamError


def digest(blob: bytes) -> str:
    """SHA-256 of a weights file, hex (as in models/weights/MANIFEST.json)."""
    return hashlib.sha256(blob).hexdigest()


def safetensors_metadata(blob: bytes) -> dict[str, str]:
    """The string metadata of a safetensors file's bytes (u64 header length + JSON header)."""
    header_length = int.from_bytes(blob[:8], "little")
    return json.loads(blob[8 : 8 + header_length]).get("__metadata__", {})


def weights_id(name: str, blob: bytes) -> str:
    """The id of a weights file named ``name`` whose bytes are ``blob``."""
    return f"{name}@{digest(blob)[:12]}"


def check_weights(file_id: str, ours: str) -> None:
    """Raise ``BitstreamError`` unless a file's weights id is the one this build ships."""
    if file_id != ours:
        raise BitstreamError(
            f"file was made with weights {file_id!r}; this build has {ours!r}"
            " (decode it with the package version that wrote it)"
        )

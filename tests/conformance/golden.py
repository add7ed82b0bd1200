"""Inputs of the golden bitstreams, built with integer arithmetic only (identical everywhere).

tools/make_golden.py writes the files next to this module; test_golden.py checks them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from entropy import (
    AdaptiveContextModel,
    CategoricalRows,
    IndexedGaussian,
    IndexedLaplace,
    StreamKind,
    SymbolDecoder,
    SymbolEncoder,
)

HERE = Path(__file__).resolve().parent
ENTROPY_FILES = {stream: HERE / f"entropy_v1_{stream.value}.bin" for stream in StreamKind}
RAW_FILE = HERE / "raw_v1.ncdc"
IMAGE_DIR = HERE / "image"
IMAGE_EXPECTED = IMAGE_DIR / "expected.json"
IMAGE_QUALITIES = range(1, 8)


def _lcg(n: int, seed: int) -> np.ndarray:
    """n pseudo-random uint32 values from a 64-bit LCG (Knuth MMIX constants)."""
    out, state = np.empty(n, dtype=np.uint64), seed
    for i in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        out[i] = state >> 32
    return out


def entropy_inputs() -> dict[str, np.ndarray]:
    """Symbols and parameters for every family, including escapes and huge values."""
    r = _lcg(4000, 1).astype(np.int64)
    q = (r[:1000] % 61) - 30
    q[::97] = (r[::97][: q[::97].size] % 100_000) * 1000  # escapes far outside every table
    q[5] = -(2**60)
    rows = (r[1000:1800].reshape(100, 8) % 1000) + 1
    return {
        "q": q,
        "scale_idx": r[1000:2000] % 160,
        "cat_symbols": r[2000:2100] % 8,
        "cat_rows": rows,
        "bytes": (r[2100:3600] % 256) ** 2 // 256,
        "contexts": r[2100:3600] % 3,
    }


def encode_entropy(stream: StreamKind) -> bytes:
    x = entropy_inputs()
    enc = SymbolEncoder(stream)
    IndexedGaussian().encode(enc, x["q"], x["scale_idx"])
    IndexedLaplace().encode(enc, -x["q"], x["scale_idx"][::-1])
    CategoricalRows().encode(enc, x["cat_symbols"], x["cat_rows"])
    AdaptiveContextModel(3, 256).encode(enc, x["bytes"], x["contexts"])
    return enc.to_bytes()


def decode_entropy(data: bytes, stream: StreamKind) -> dict[str, np.ndarray]:
    x = entropy_inputs()
    dec = SymbolDecoder(data, stream)
    out = {
        "q": IndexedGaussian().decode(dec, x["scale_idx"]),
        "minus_q": IndexedLaplace().decode(dec, x["scale_idx"][::-1]),
        "cat_symbols": CategoricalRows().decode(dec, x["cat_rows"]),
        "bytes": AdaptiveContextModel(3, 256).decode(dec, x["bytes"].size, x["contexts"]),
    }
    dec.finish()
    return out


def raw_input() -> bytes:
    """20000 i.i.d. bytes with P(b) ~ 2b+1 (the raw codec's adaptive method beats zstd here)."""
    r = _lcg(20000, 2) % 65536
    return np.sqrt(r.astype(np.float64)).astype(np.uint8).tobytes()  # exact: IEEE sqrt


def image_input() -> np.ndarray:
    """(64, 96, 3) uint8 crop of the bundled CC0 photo samples/seeding_384x256.png."""
    from PIL import Image

    photo = Image.open(HERE.parent.parent / "samples" / "seeding_384x256.png").convert("RGB")
    return np.asarray(photo)[96:160, 144:240].copy()


def image_file(quality: int) -> Path:
    return IMAGE_DIR / f"q{quality}.ncdc"

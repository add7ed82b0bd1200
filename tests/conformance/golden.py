"""Inputs of the golden bitstreams, built with integer arithmetic only (identical everywhere).

tools/make_golden.py writes the files next to this module; test_golden.py checks them.
"""

from __future__ import annotations

import contextlib
import hashlib
import lzma
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with torch limited to ``n`` threads; restore the setting afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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


#: The quality-6 golden in the container's full form (a CRC per chunk; the image goldens
#: themselves are small enough for the compact form), which readers keep reading.
IMAGE_FULL_FORM = IMAGE_DIR / "q6_full.ncdc"


def container_parts(blob: bytes) -> tuple:
    """(kind, codec id, chunks, metadata, weights id) of a container: the arguments that
    :func:`codec.container.container_bytes` writes it from."""
    from codec.container import ContainerReader

    reader = ContainerReader(blob)
    header = reader.header
    chunks = list(reader.iter_chunks())
    return header.kind, header.codec_id, chunks, dict(header.metadata), header.weights_id


CHECKPOINT_DIR = HERE / "checkpoint"
CHECKPOINT_FILES = {
    name: CHECKPOINT_DIR / f"{name}.ncdc" for name in ("alone", "reference", "near_lossless")
}
CHECKPOINT_EXPECTED = CHECKPOINT_DIR / "expected.json"


def _floats(bits: np.ndarray, dtype: str, shape: tuple[int, ...]):
    """A torch tensor of ``dtype`` whose elements have the given bit patterns."""
    import torch

    signed = np.int32 if dtype == "float32" else np.int16
    array = bits.astype(np.uint32 if dtype == "float32" else np.uint16).view(signed)
    return torch.from_numpy(array).view(getattr(torch, dtype)).reshape(shape)


def checkpoint_inputs() -> tuple[dict, dict]:
    """(previous, current) training-state-like structures whose float tensors are made from
    integer bit patterns (exact everywhere): current = previous with small changes."""
    import torch

    r = _lcg(5000, 7)
    # weights near +-0.05: sign from bit 0, exponent 121..122, random mantissa
    weights = ((r[:2048] & 1) << 31) | ((121 + (r[:2048] >> 30) % 2) << 23) | (r[:2048] & 0x7FFFFF)
    moments = (((r[2048:4096] >> 7) % 20 + 100) << 23) | (r[2048:4096] & 0x7FFFFF)
    nudge = (r[:2048] >> 9) % 4096

    def state(step: int, w: np.ndarray, v: np.ndarray) -> dict:
        return {
            "model": {
                "w": _floats(w, "float32", (32, 64)),
                "b16": _floats(r[4096:4352] >> 16, "bfloat16", (256,)),
                "h16": _floats((r[4352:4608] >> 16) & 0x7BFF, "float16", (16, 16)),
            },
            "optimizer": {
                "state": {
                    0: {
                        "step": torch.tensor(float(step)),
                        "exp_avg_sq": _floats(v, "float32", (2048,)),
                    }
                },
                "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "params": [0]}],
            },
            "step": step,
            "ids": torch.from_numpy((r[4608:4708] % 1000).astype(np.int64)),
        }

    return state(100, weights, moments), state(200, weights + nudge, moments + 1000)


def checkpoint_tensor_hashes(state) -> dict[str, str]:
    """sha256 of every tensor's raw bytes (dtype + shape included), by structure path."""
    import hashlib

    from codec.media.checkpoint import from_object

    source = from_object(state)
    return {
        f"{info.path} {info.dtype} {list(info.shape)}": hashlib.sha256(
            source.tensor(i).tobytes()
        ).hexdigest()
        for i, info in enumerate(source.tensors)
    }


LOSSLESS_DIR = HERE / "lossless"
LOSSLESS_FILES = {name: LOSSLESS_DIR / f"{name}.ncdc" for name in ("digits", "digit", "photo")}
LOSSLESS_EXPECTED = LOSSLESS_DIR / "expected.json"


def lossless_inputs() -> dict[str, np.ndarray]:
    """Synthetic digit-like strokes (the mnist model, as a stack and as one compact file) and
    a crop of the bundled photo (the patch model, odd size)."""
    digits = np.zeros((3, 28, 28), dtype=np.uint8)
    rows = np.arange(6, 22)
    digits[0, rows, 13] = digits[0, rows, 14] = 255  # a "1"
    digits[1, 6, 8:20] = 255  # a "7"
    digits[1, rows, 27 - rows] = 200
    digits[2, 8:20, 9] = digits[2, 8:20, 18] = digits[2, 8, 9:19] = digits[2, 19, 9:19] = 230
    return {"digits": digits, "digit": digits[1], "photo": image_input()[:21, :37]}


def pixel_hash(array: np.ndarray) -> str:
    return hashlib.sha256(repr(array.shape).encode() + array.tobytes()).hexdigest()


AUDIO_DIR = HERE / "audio"
AUDIO_CASES = {"rvq6": ("rvq", 6.0), "rvq1.5": ("rvq", 1.5), "fsq": ("fsq", None)}
AUDIO_FILES = {name: AUDIO_DIR / f"{name}.ncdc" for name in AUDIO_CASES}
AUDIO_EXPECTED = AUDIO_DIR / "expected.json"
AUDIO_INPUT = HERE.parent.parent / "samples" / "melody_22k.flac"
# Written before side_decimation existed (side coded at 24 kHz); decodable while the shipped
# audio weights are the ones it names.
AUDIO_LEGACY = AUDIO_DIR / "legacy_full_side_rvq6.ncdc"
AUDIO_LEGACY_EXPECTED = AUDIO_DIR / "legacy.json"


def pcm(audio) -> np.ndarray:
    """Decoded audio as the 16-bit PCM a wav file would hold, (channels, samples) int16."""
    samples = np.concatenate(list(audio.blocks()), axis=1)
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2")


VIDEO_DIR = HERE / "video"
VIDEO_FILE = VIDEO_DIR / "orbits_q1.ncdc"
VIDEO_EXPECTED = VIDEO_DIR / "expected.json"
VIDEO_INPUT = HERE.parent.parent / "samples" / "orbits_160x96.mp4"
VIDEO_OPTIONS = {"mode": "nerv", "quality": 1, "epochs": 20}
VIDEO_HYPER_FILE = VIDEO_DIR / "orbits_hyper_q3.ncdc"
VIDEO_HYPER_EXPECTED = VIDEO_DIR / "expected_hyper.json"
VIDEO_HYPER_OPTIONS = {"mode": "hyper", "quality": 3}


def frames(video) -> np.ndarray:
    """Decoded video frames, (T, H, W, 3) uint8."""
    return np.stack(list(video.frames()))


# Lossy goldens: their float synthesis (latents -> pixels or samples) rounds differently on
# CPUs with other vector units (AVX-512, AVX2, SSE), so the decoded output may differ by one
# step of the 8- or 16-bit output in a few places; the entropy-decoded symbols may not differ.
MAX_STEPS_OFF = 1  # largest |decoded - reference| allowed, in output steps
MAX_FRACTION_OFF = 0.01  # largest share of output values that may differ from the reference
# The reference keeps every AUDIO_STRIDE-th sample and every VIDEO_STRIDE-th frame (small files).
AUDIO_STRIDE, VIDEO_STRIDE = 8, 12


@dataclass(frozen=True)
class LossyOutput:
    """How a lossy kind's decoded media becomes the compared integer array, and the part of
    that array its stored reference keeps."""

    as_array: Callable[[Any], np.ndarray]
    reference_view: Callable[[np.ndarray], np.ndarray]


IMAGE_OUTPUT = LossyOutput(lambda media: media, lambda pixels: pixels)
AUDIO_OUTPUT = LossyOutput(pcm, lambda samples: samples[:, ::AUDIO_STRIDE])
VIDEO_OUTPUT = LossyOutput(frames, lambda video: video[::VIDEO_STRIDE])


def lossy_goldens() -> dict[str, tuple[Path, LossyOutput]]:
    """Every lossy golden file by name, with how its output is compared."""
    from models.image.codec import QUALITIES

    goldens = {f"image q{q}": (image_file(q), IMAGE_OUTPUT) for q in QUALITIES}
    goldens.update((f"audio {n}", (p, AUDIO_OUTPUT)) for n, p in AUDIO_FILES.items())
    goldens["audio legacy"] = (AUDIO_LEGACY, AUDIO_OUTPUT)
    goldens["video nerv"] = (VIDEO_FILE, VIDEO_OUTPUT)
    goldens["video hyper"] = (VIDEO_HYPER_FILE, VIDEO_OUTPUT)
    return goldens


def reference_file(golden: Path) -> Path:
    """Where the reference decode of a lossy golden lies: next to it, ``.ref.npy.xz``."""
    return golden.with_name(golden.stem + ".ref.npy.xz")


def write_reference(golden: Path, output: LossyOutput, array: np.ndarray) -> None:
    with lzma.open(reference_file(golden), "wb", preset=9) as f:
        np.save(f, output.reference_view(array), allow_pickle=False)


def reference_offsets(golden: Path, output: LossyOutput, array: np.ndarray) -> np.ndarray:
    """|decoded - reference| in output steps over the part of ``array`` the reference keeps."""
    with lzma.open(reference_file(golden), "rb") as f:
        reference = np.load(f, allow_pickle=False)
    view = output.reference_view(array)
    assert view.shape == reference.shape, f"shape {view.shape} != reference {reference.shape}"
    return np.abs(view.astype(np.int64) - reference.astype(np.int64))


def decode_traced(blob: bytes, output: LossyOutput):
    """Decode ``blob`` with 1 and then 2 torch threads, checking that both give the same
    symbols and byte-identical output. Returns (header, output array, symbols sha256)."""
    import codec
    from entropy import trace_symbols

    runs = []
    for n in (1, 2):
        with torch_threads(n), trace_symbols() as symbols:
            decoded = codec.decode(blob)
            runs.append((decoded.header, output.as_array(decoded.media), symbols.hexdigest()))
    (header, array, digest), (_, array2, digest2) = runs
    assert digest == digest2, "entropy-decoded symbols differ between 1 and 2 threads"
    assert array.shape == array2.shape and array.tobytes() == array2.tobytes(), (
        "decoded output differs between 1 and 2 torch threads"
    )
    return header, array, digest


def assert_near_reference(golden: Path, output: LossyOutput, array: np.ndarray) -> None:
    """Decoded ``array`` within MAX_STEPS_OFF of the golden's reference, and different in at
    most MAX_FRACTION_OFF of the values compared."""
    off = reference_offsets(golden, output, array)
    assert off.max(initial=0) <= MAX_STEPS_OFF, f"decoded output off by up to {off.max()} steps"
    assert np.mean(off > 0) <= MAX_FRACTION_OFF, f"{np.mean(off > 0):.2%} of the output differs"

"""Lossless codec evaluation: MNIST t10k and Kodak against classical lossless coders, same run.

    python tools/eval_lossless.py [--out out/eval_lossless] [--mnist N] [--kodak N]
        [--naive-positions 24]

MNIST (../shared/data/mnist/t10k-images-idx3-ubyte.gz), bits per dimension from real bytes:

- whole set: ``codec encode t10k-images-idx3-ubyte.gz out.bin --kind lossless`` (the file API)
  and decode back, vs zstd -19 and xz -9e on the raw pixel bytes;
- one file per image, container included (compact form): every digit is its own stream,
  coded in batches of 500 (bytes identical to ``codec.encode(digit)``, checked on a sample),
  vs PNG (Pillow, optimize), WebP lossless (method 6) and JPEG-XL lossless (effort 9);
- speed: images/s of both layouts, single-file latency through the API, and the efficient
  vs the naive conditional scheme at D=784 on the same digit (the naive one evaluates the
  whole circuit for 256 candidate values at each position: timed on --naive-positions
  positions, scaled to 784; float circuit with the shipped integer parameters).

Kodak (../shared/data/image/kodak): the patch circuit vs PNG / WebP-L / JPEG-XL-L, bits per
pixel (all three colours together). Every decode is checked bit-exact.
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zstandard

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import codec  # noqa: E402
import codec.api as api  # noqa: E402
from codec.container import ContainerReader, container_bytes  # noqa: E402
from codec.media.lossless import open_input  # noqa: E402
from models.lossless.codec import MNIST_WEIGHTS, PATCH_WEIGHTS  # noqa: E402
from models.lossless.coding import decode_streams, encode_streams  # noqa: E402
from models.lossless.weights import load_circuit  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
T10K = SHARED / "mnist" / "t10k-images-idx3-ubyte.gz"
BATCH = 500


def png_bytes(image: np.ndarray) -> int:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=True)
    return buffer.tell()


def webp_bytes(image: np.ndarray) -> int:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="WEBP", lossless=True, quality=100, method=6)
    return buffer.tell()


def jxl_bytes(image: np.ndarray) -> int:
    import imagecodecs

    data = imagecodecs.jpegxl_encode(image, lossless=True, effort=9)
    assert np.array_equal(imagecodecs.jpegxl_decode(data), image)
    return len(data)


BASELINES = {"PNG": png_bytes, "WebP-L": webp_bytes, "JPEG-XL-L": jxl_bytes}


def whole_set(digits: np.ndarray, tmp: Path) -> dict:
    source = tmp / "t10k-images-idx3-ubyte.gz"
    with open(T10K, "rb") as f:
        source.write_bytes(f.read())
    if len(digits) != 10000:  # a subset: write it as its own idx file
        import gzip
        import struct

        with gzip.open(source, "wb") as f:
            f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, *digits.shape) + digits.tobytes())
    start = time.perf_counter()
    report = api.encode_file(source, tmp / "t10k.bin", kind="lossless")
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    api.decode_file(tmp / "t10k.bin", tmp / "back-idx3-ubyte")
    decode_s = time.perf_counter() - start
    with open_input(tmp / "back-idx3-ubyte") as back:
        assert np.array_equal(back, digits), "whole-set round trip differs"
    raw = digits.tobytes()
    dims = digits.size
    return {
        "images": len(digits),
        "ours_bytes": report.output_bytes,
        "ours_bpd": report.output_bytes * 8 / dims,
        "zstd19_bpd": len(zstandard.ZstdCompressor(level=19).compress(raw)) * 8 / dims,
        "xz9e_bpd": len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME)) * 8 / dims,
        "encode_images_per_s": len(digits) / encode_s,
        "decode_images_per_s": len(digits) / decode_s,
    }


def per_image(digits: np.ndarray) -> dict:
    circuit = load_circuit(MNIST_WEIGHTS)
    order = range(784)
    flat = digits.reshape(len(digits), 784)
    metadata = {"layout": "gray", "model": "mnist", "shape": (28, 28)}
    files: list[bytes] = []
    start = time.perf_counter()
    for first in range(0, len(flat), BATCH):
        for stream in encode_streams(circuit.tables, flat[first : first + BATCH], order):
            files.append(
                container_bytes("lossless", "lossless-v1", [stream], metadata, circuit.weights_id)
            )
    encode_s = time.perf_counter() - start
    for index in range(0, len(digits), max(1, len(digits) // 8)):  # same bytes as the API
        assert files[index] == codec.encode(digits[index], kind="lossless")
    start = time.perf_counter()
    decoded = []
    for first in range(0, len(files), BATCH):
        streams = [ContainerReader(f).read_chunk(0) for f in files[first : first + BATCH]]
        decoded.append(decode_streams(circuit.tables, streams, order))
    decode_s = time.perf_counter() - start
    assert np.array_equal(np.concatenate(decoded), flat), "per-image round trip differs"
    start = time.perf_counter()
    single = 5
    for index in range(single):
        assert np.array_equal(codec.decode(files[index]).media, digits[index])
    latency = (time.perf_counter() - start) / single
    dims = digits.size
    result = {
        "ours_bpd": sum(map(len, files)) * 8 / dims,
        "ours_mean_file_bytes": float(np.mean([len(f) for f in files])),
        "encode_images_per_s": len(files) / encode_s,
        "decode_images_per_s": len(files) / decode_s,
        "single_file_decode_s": latency,
    }
    for name, size in BASELINES.items():
        result[f"{name}_bpd"] = sum(size(d) for d in digits) * 8 / dims
    return result


def scheme_speed(digit: np.ndarray, positions: int) -> dict:
    """Efficient (integer and float) vs naive conditionals on one digit."""
    import torch

    from models.lossless.circuit import HCLT
    from models.lossless.coding import encode_pixels
    from models.lossless.conditionals import conditionals_naive, conditionals_sequential
    from models.lossless.structure import tree_from_parent

    tables = load_circuit(MNIST_WEIGHTS).tables
    circuit = HCLT(tree_from_parent(tables.parent), tables.hidden)

    def log_rows(a: np.ndarray) -> torch.Tensor:
        a = a.astype(np.float64)
        return torch.from_numpy(np.log(a / a.sum(-1, keepdims=True))).float()

    circuit.set_parameters([log_rows(tables.prior), log_rows(tables.trans), log_rows(tables.emit)])
    x = torch.from_numpy(digit.reshape(1, 784).astype(np.int64))
    start = time.perf_counter()
    encode_pixels(tables, digit.reshape(1, 784), range(784))
    integer_s = time.perf_counter() - start
    start = time.perf_counter()
    conditionals_sequential(circuit, x, list(range(784)))
    float_s = time.perf_counter() - start
    chosen = list(np.linspace(0, 783, positions).astype(int))
    start = time.perf_counter()
    conditionals_naive(circuit, x, chosen)
    naive_s = (time.perf_counter() - start) / positions * 784
    return {
        "efficient_integer_s_per_image": integer_s,
        "efficient_float_s_per_image": float_s,
        "naive_float_s_per_image": naive_s,
        "naive_positions_timed": positions,
        "speedup_integer_vs_naive": naive_s / integer_s,
        "speedup_float_vs_naive": naive_s / float_s,
    }


def kodak(limit: int) -> dict:
    from PIL import Image

    files = sorted((SHARED / "image" / "kodak").glob("*.png"))[:limit]
    rows = []
    for path in files:
        image = np.asarray(Image.open(path).convert("RGB"))
        pixels = image.shape[0] * image.shape[1]
        start = time.perf_counter()
        blob = codec.encode(image, kind="lossless")
        encode_s = time.perf_counter() - start
        start = time.perf_counter()
        back = codec.decode(blob).media
        decode_s = time.perf_counter() - start
        assert np.array_equal(back, image), f"{path.name}: round trip differs"
        row = {"image": path.name, "ours_bpp": len(blob) * 8 / pixels}
        row.update({f"{n}_bpp": size(image) * 8 / pixels for n, size in BASELINES.items()})
        row.update({"encode_s": encode_s, "decode_s": decode_s})
        rows.append(row)
        print(json.dumps(row), flush=True)
    keys = [k for k in rows[0] if k != "image"]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    return {"weights": load_circuit(PATCH_WEIGHTS).weights_id, "images": rows, "mean": mean}


def _row(cells: list) -> str:
    return "| " + " | ".join(f"{c:.4g}" if isinstance(c, float) else str(c) for c in cells) + " |"


def markdown(results: dict) -> str:
    """The tables of docs/RESULTS.md."""
    return "\n\n".join(
        table(results) for key, table in (("schemes", _mnist_tables), ("kodak", _kodak_table))
        if key in results
    )  # fmt: skip


def _mnist_tables(results: dict) -> str:
    whole, single, schemes = (results[k] for k in ("mnist_whole_set", "mnist_per_image", "schemes"))
    lines = [
        f"MNIST t10k ({whole['images']} digits), weights {results['weights']}:",
        "",
        "| layout | method | bits/dim | encode img/s | decode img/s |",
        "|---|---|---|---|---|",
        _row(["whole set, one file", "ours", whole["ours_bpd"],
              whole["encode_images_per_s"], whole["decode_images_per_s"]]),
        _row(["whole set, one file", "xz -9e (raw bytes)", whole["xz9e_bpd"], "-", "-"]),
        _row(["whole set, one file", "zstd -19 (raw bytes)", whole["zstd19_bpd"], "-", "-"]),
        _row(["one file per digit", "ours (compact container)", single["ours_bpd"],
              single["encode_images_per_s"], single["decode_images_per_s"]]),
    ]  # fmt: skip
    lines += [_row(["one file per digit", n, single[f"{n}_bpd"], "-", "-"]) for n in BASELINES]
    best = min(single[f"{n}_bpd"] for n in ("WebP-L", "JPEG-XL-L"))
    lines += [
        "",
        f"Whole set: ours / xz = {whole['ours_bpd'] / whole['xz9e_bpd']:.3f}, ours / zstd ="
        f" {whole['ours_bpd'] / whole['zstd19_bpd']:.3f}. One file per digit: ours / best of"
        f" WebP-L and JPEG-XL-L = {single['ours_bpd'] / best:.3f} (mean file"
        f" {single['ours_mean_file_bytes']:.1f} bytes); a single digit through `codec.decode`"
        f" takes {single['single_file_decode_s']:.2f} s.",
        "",
        "| scheme (one digit, D=784) | seconds per image | naive / this |",
        "|---|---|---|",
        _row(["efficient, integer (the codec)", schemes["efficient_integer_s_per_image"],
              schemes["speedup_integer_vs_naive"]]),
        _row(["efficient, float (torch)", schemes["efficient_float_s_per_image"],
              schemes["speedup_float_vs_naive"]]),
        _row([f"naive, float ({schemes['naive_positions_timed']} positions timed, x784)",
              schemes["naive_float_s_per_image"], 1.0]),
    ]  # fmt: skip
    return "\n".join(lines)


def _kodak_table(results: dict) -> str:
    mean = results["kodak"]["mean"]
    lines = [
        f"Kodak ({len(results['kodak']['images'])} images), bits per pixel (RGB), patch model"
        f" {results['kodak']['weights']}:",
        "",
        "| method | bpp | bits/subpixel | size vs ours |",
        "|---|---|---|---|",
    ]
    for name in ("ours", *BASELINES):
        bpp = mean[f"{name}_bpp"]
        lines.append(_row([name, bpp, bpp / 3, bpp / mean["ours_bpp"]]))
    lines += [
        "",
        f"Ours: {mean['encode_s']:.1f} s encode, {mean['decode_s']:.1f} s decode per image.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "eval_lossless")
    parser.add_argument("--mnist", type=int, default=10000, help="t10k digits to use (0: none)")
    parser.add_argument("--kodak", type=int, default=24, help="Kodak images to use (0: none)")
    parser.add_argument("--naive-positions", type=int, default=24)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    if args.mnist:
        with open_input(T10K) as t10k:
            digits = t10k[: args.mnist]
        results["weights"] = load_circuit(MNIST_WEIGHTS).weights_id
        with tempfile.TemporaryDirectory() as tmp:
            results["mnist_whole_set"] = whole_set(digits, Path(tmp))
        print(json.dumps(results, indent=1), flush=True)
        results["mnist_per_image"] = per_image(digits)
        print(json.dumps(results["mnist_per_image"], indent=1), flush=True)
        results["schemes"] = scheme_speed(digits[0], args.naive_positions)
    if args.kodak:
        results["kodak"] = kodak(args.kodak)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    (args.out / "results.md").write_text(markdown(results) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    main()

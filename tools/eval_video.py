"""Rate-distortion evaluation of the video codec (hyper, hyper+refine and nerv modes) vs x264,
x265 and SVT-AV1, same run.

    python tools/eval_video.py [--out out/eval_video] [--clips BasketballPass cars]
                               [--modes hyper refine nerv] [--qualities 1 2 3]
                               [--hyper-qualities 1 2 3 4 5] [--epochs 30] [--refine 32]
                               [--threads 2] [--quick]

Clips (evaluation only, never trained on), ../shared/data/video/eval: BasketballPass (folder
of 100 PNG frames, 416x240, treated as 50 fps, the HEVC test sequence's rate) and
cars_320x240.i420 (30 frames, 25 fps as our reader assumes). Every codec gets the same RGB
frames (``codec.media.video.open_input``: the I420 clip converted by FFmpeg, BT.601) and is
scored on the RGB frames it gives back; everything goes through real files.

Baselines (PyAV / FFmpeg, RGB -> yuv420p by swscale, decoded back to RGB, mp4 for all):
libx264 preset medium and libx265 preset medium (``x265-params`` log-level=error), CRF 22, 27,
32, 37, 42, 47, 51 (down to the low qualities ours reaches, so the curves overlap);
libsvtav1 preset 8 (picked for speed), CRF 30, 38, 46, 54, 62 (63 is its maximum). FFmpeg threads
``--threads`` (x264 ``threads``, x265 ``pools``, SVT-AV1 ``lp``; decoders ``thread_count``).
Ours, decoded with ``codec.decode_file`` to FFV1 RGB .mkv (lossless) and read back:
``ours-hyper`` = ``codec.encode_file(kind="video", quality=q)`` for ``--hyper-qualities``
(the shipped hypernetwork, no fitting); ``ours-hyper+refine`` = the same with
``refine=--refine`` steps per segment; ``ours-nerv`` = ``mode="nerv", epochs=--epochs`` for
``--qualities`` (per-video fitting).

Metrics per row: bpp = file bytes * 8 / (frames * W * H) (container included), kbps = file
bytes * 8 / (frames / fps) / 1000, PSNR-RGB (dB, mean over frames of the per-frame PSNR on
8-bit RGB), PSNR-Y (dB, same on BT.601 luma 0.299 R + 0.587 G + 0.114 B computed in float from
the RGB frames, both sides), MS-SSIM (pytorch_msssim on RGB, data range 255, mean over frames;
skipped with a note when the package is missing or the frames are too small), encode and
decode wall seconds (file to file, colour conversion included; ours: fitting) and decode
frames/s. BD-rate (bpp) of each of ours vs each baseline, and of hyper and hyper+refine vs
nerv, on PSNR-RGB, PSNR-Y and MS-SSIM (dB,
-10 log10(1 - MS-SSIM)); tools/bd_rate.py averages only over the distortion range both curves
cover and gives NaN when they do not overlap (the tables give the ranges: a narrow overlap
describes a small part of the curves).

Entropy coding vs Huffman (with cars selected): the quality-3 network fitted once to cars
(``fit_segment``, ``--epochs``); (a) our size, ``len(encode_tensors(...))`` of the items of
``pack_segment`` (checked equal); (b) a Huffman code per tensor over its integer histogram (as
HNeRV does), the table sent as 16 bits for the number of used symbols + per used symbol 16 bits
value + 5 bits code length, plus the same float32 quantization steps as ours (4 bytes per
group); also one Huffman code shared by all tensors, and the empirical entropy of the integers
(per tensor, no table) as the bound of any static per-tensor code.

Residual vs direct weight coding (with BasketballPass selected, not with --quick). nerv: the
clip in 4 segments of 25 frames at quality 2 and ``--epochs``, once with every segment a key
segment (weights fitted from scratch and coded as they are) and once with residual segments
after the first (weights fitted from the previous segment's and coded as differences,
``from_prev``). hyper (quality 3, no refinement): every segment a key segment vs the default
key interval (residuals where smaller); the weights are the same, so the PSNR is too. Payload
bytes and PSNR of the decoded frames.

Writes into ``--out``: results.json, results.md (the tables printed at the end) and
rd_<clip>.png (PSNR-RGB and PSNR-Y vs bpp). Each row is printed as JSON as it is measured.
The default run takes about 30 minutes on 2 CPU cores (the nerv fitting dominates:
BasketballPass ~3 min per quality at 30 epochs); ``--quick`` (the last of each quality list,
2 epochs, 2 refinement steps, 3 CRFs per baseline) is a smoke run of a few minutes.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import codec  # noqa: E402
from codec.media.video import open_input  # noqa: E402
from models.video.codec import DEFAULT_EPOCHS, HYPER_STEPS  # noqa: E402
from tools.bd_rate import bd_rate, msssim_db, overlap  # noqa: E402

EVAL = ROOT.parent / "shared" / "data" / "video" / "eval"
CLIPS = {  # name: (path, frames per second used for kbps and by the baseline encoders)
    "BasketballPass": (EVAL / "BasketballPass", Fraction(50)),
    "cars": (EVAL / "cars_320x240.i420", Fraction(25)),
}
BASELINES = {  # name: (FFmpeg encoder, options, CRF sweep)
    "x264": ("libx264", {"preset": "medium"}, (22, 27, 32, 37, 42, 47, 51)),
    "x265": ("libx265", {"preset": "medium"}, (22, 27, 32, 37, 42, 47, 51)),
    "svt-av1": ("libsvtav1", {"preset": "8"}, (30, 38, 46, 54, 62)),
}
ENTROPY_CLIP, ENTROPY_QUALITY = "cars", 3
RESIDUAL_CLIP, RESIDUAL_QUALITY, RESIDUAL_SEGMENT = "BasketballPass", 2, 25
HYPER_RESIDUAL_QUALITY = 3
MODES = {"hyper": "ours-hyper", "refine": "ours-hyper+refine", "nerv": "ours-nerv"}
MSSSIM_MIN_SIDE = 161  # pytorch_msssim: smaller side > (11 - 1) * 2**4 with 5 scales
HUFFMAN_COUNT_BITS, HUFFMAN_SYMBOL_BITS, HUFFMAN_LENGTH_BITS, STEP_BITS = 16, 16, 5, 32

try:
    from pytorch_msssim import ms_ssim as _ms_ssim
except ImportError:  # pragma: no cover - optional metric
    _ms_ssim = None


def read_frames(path: Path) -> tuple[np.ndarray, Fraction]:
    """(T, H, W, 3) uint8 RGB frames of a video file or frames folder, and its frame rate."""
    with open_input(path) as video:
        return np.stack(list(video.frames())), video.info.fps


def luma(frame: np.ndarray) -> np.ndarray:
    """BT.601 luma (float64, 0..255) of an (H, W, 3) uint8 RGB frame."""
    return frame.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB for a peak of 255 (capped at 100 dB for identical inputs)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255**2 / max(mse, 1e-10))


def msssim_ok(frames: np.ndarray) -> bool:
    return _ms_ssim is not None and min(frames.shape[1:3]) >= MSSSIM_MIN_SIDE


def metrics(reference: np.ndarray, decoded: np.ndarray) -> dict[str, float]:
    """PSNR-RGB, PSNR-Y (dB) and MS-SSIM (0..1, NaN when unavailable): means over frames."""
    if decoded.shape != reference.shape:
        raise RuntimeError(f"decoded {decoded.shape} != reference {reference.shape}")
    out = {
        "psnr_rgb": float(np.mean([psnr(r, d) for r, d in zip(reference, decoded, strict=True)])),
        "psnr_y": float(
            np.mean([psnr(luma(r), luma(d)) for r, d in zip(reference, decoded, strict=True)])
        ),
        "ms_ssim": float("nan"),
    }
    if msssim_ok(reference):
        values = []
        for start in range(0, len(reference), 8):
            a, b = (
                torch.from_numpy(x[start : start + 8]).permute(0, 3, 1, 2).float()
                for x in (reference, decoded)
            )
            values.append(_ms_ssim(a, b, data_range=255, size_average=False))
        out["ms_ssim"] = float(torch.cat(values).mean())
    return out


def run_baseline(
    frames: np.ndarray, fps: Fraction, name: str, crf: int, path: Path, threads: int
) -> tuple[int, np.ndarray, float, float]:
    """(file bytes, decoded RGB frames, encode s, decode s) of one baseline at one CRF."""
    import av

    encoder, options, _ = BASELINES[name]
    options = {**options, "crf": str(crf)}
    if encoder == "libx264":
        options["threads"] = str(threads)
    elif encoder == "libx265":
        options["x265-params"] = f"log-level=error:pools={threads}"
    elif encoder == "libsvtav1":
        options["svtav1-params"] = f"lp={threads}"
    height, width = frames.shape[1:3]
    start = time.perf_counter()
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(encoder, rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = threads
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
    return path.stat().st_size, decoded, encode_s, time.perf_counter() - start


def run_ours(
    source: Path, quality: int, options: dict, tmp: Path
) -> tuple[int, np.ndarray, float, float, list[int]]:
    """(file bytes, decoded frames, encode s, decode s, chunk bytes) through our files."""
    bin_path, decoded_path = tmp / f"ours_q{quality}.bin", tmp / "ours.mkv"
    start = time.perf_counter()
    codec.encode_file(source, bin_path, kind="video", quality=quality, force=True, **options)
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    codec.decode_file(bin_path, decoded_path, force=True)
    decode_s = time.perf_counter() - start
    chunks = [chunk.length for chunk in codec.info(bin_path).chunks]
    return bin_path.stat().st_size, read_frames(decoded_path)[0], encode_s, decode_s, chunks


def ours_runs(args: argparse.Namespace) -> list[tuple[str, int, dict]]:
    """(codec name, quality, encode options) of each of our runs."""
    hyper_q, nerv_q = args.hyper_qualities, args.qualities
    epochs, refine = args.epochs, args.refine
    if args.quick:
        hyper_q, nerv_q, epochs, refine = hyper_q[-1:], nerv_q[-1:], 2, 2
    options = {
        "hyper": (hyper_q, {"mode": "hyper"}),
        "refine": (hyper_q, {"mode": "hyper", "refine": refine}),
        "nerv": (nerv_q, {"mode": "nerv", "epochs": epochs}),
    }
    return [(MODES[m], q, options[m][1]) for m in args.modes for q in options[m][0]]


def rd_rows(
    clip: str, quick: bool, ours: list[tuple[str, int, dict]], threads: int, tmp: Path
) -> tuple[list[dict], np.ndarray]:
    """One row per (codec, setting) of ``clip``, printed as JSON as measured; and its frames."""
    source, fps = CLIPS[clip]
    frames, _ = read_frames(source)
    count, height, width = frames.shape[:3]
    if width % 2 or height % 2:
        raise SystemExit(f"{clip}: 4:2:0 baselines need even sides, got {width}x{height}")
    pixels, seconds = count * width * height, count / float(fps)
    runs: list[tuple[str, int, dict]] = list(ours)
    for name, (_, _, crfs) in BASELINES.items():
        runs += [(name, crf, {}) for crf in (crfs[::2] if quick else crfs)]
    rows = []
    for name, setting, options in runs:
        row: dict = {"clip": clip, "codec": name, "setting": setting}
        if name.startswith("ours"):
            size, decoded, enc_s, dec_s, chunks = run_ours(source, setting, options, tmp)
            row.update({**options, "chunk_bytes": chunks})
        else:
            path = tmp / f"{name}_{setting}.mp4"
            size, decoded, enc_s, dec_s = run_baseline(frames, fps, name, setting, path, threads)
            row["preset"] = BASELINES[name][1]["preset"]
        row.update({
            "frames": count, "width": width, "height": height, "fps": float(fps),
            "bytes": size, "bpp": size * 8 / pixels, "kbps": size * 8 / seconds / 1000,
            **metrics(frames, decoded),
            "encode_s": enc_s, "decode_s": dec_s, "decode_fps": count / dec_s,
        })  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows, frames


def bd_rows(rows: list[dict]) -> list[dict]:
    """BD-rate (bpp, %) of each of ours vs each baseline, and of hyper (+refine) vs nerv, per
    clip and metric, with the dB ranges."""
    out = []
    pairs = [(mine, name) for mine in MODES.values() for name in BASELINES]
    pairs += [(MODES["hyper"], MODES["nerv"]), (MODES["refine"], MODES["nerv"])]
    for clip in dict.fromkeys(r["clip"] for r in rows):
        for mine, name in pairs:
            ours = [r for r in rows if r["clip"] == clip and r["codec"] == mine]
            ref = [r for r in rows if r["clip"] == clip and r["codec"] == name]
            if not ours or not ref:
                continue
            for metric in ("psnr_rgb", "psnr_y", "ms_ssim"):
                ours_d, ref_d = ([r[metric] for r in x] for x in (ours, ref))
                if any(math.isnan(v) for v in (*ours_d, *ref_d)):
                    continue
                if metric == "ms_ssim":
                    ours_d, ref_d = msssim_db(ours_d).tolist(), msssim_db(ref_d).tolist()
                low, high = overlap(ours_d, ref_d)
                value = bd_rate([r["bpp"] for r in ours], ours_d, [r["bpp"] for r in ref], ref_d)
                row = {"clip": clip, "ours": mine, "reference": name, "metric": metric,
                       "bd_rate": value,
                       "ours_db": [min(ours_d), max(ours_d)], "ref_db": [min(ref_d), max(ref_d)],
                       "overlap_db": [low, high] if high > low else None}  # fmt: skip
                out.append(row)
                print(json.dumps(row), flush=True)
    return out


def huffman_lengths(counts: np.ndarray) -> np.ndarray:
    """Code length in bits of each symbol of a Huffman code for the (positive) ``counts``
    (a lone symbol gets 1 bit)."""
    if len(counts) == 1:
        return np.ones(1, dtype=np.int64)
    heap = [(int(c), i, [i]) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    lengths, tie = np.zeros(len(counts), dtype=np.int64), len(counts)
    while len(heap) > 1:
        count_a, _, a = heapq.heappop(heap)
        count_b, _, b = heapq.heappop(heap)
        lengths[a + b] += 1  # every symbol under the merged node gets one bit deeper
        heapq.heappush(heap, (count_a + count_b, tie, a + b))
        tie += 1
    return lengths


def huffman_cost(values: np.ndarray) -> dict[str, int | float]:
    """Bits of a Huffman code built on the histogram of integer ``values``: payload and
    table (HUFFMAN_COUNT_BITS + per used symbol value and length bits), and the empirical
    entropy (bits) of the values."""
    _, counts = np.unique(values, return_counts=True)
    lengths = huffman_lengths(counts)
    if lengths.max() >= 1 << HUFFMAN_LENGTH_BITS:
        raise RuntimeError(f"Huffman code length {lengths.max()} needs more length bits")
    p = counts / counts.sum()
    return {
        "integers": int(values.size),
        "used_symbols": len(counts),
        "payload_bits": int(counts @ lengths),
        "table_bits": HUFFMAN_COUNT_BITS
        + len(counts) * (HUFFMAN_SYMBOL_BITS + HUFFMAN_LENGTH_BITS),
        "entropy_bits": float(-(counts * np.log2(p)).sum()),
    }


def entropy_vs_huffman(frames: np.ndarray, epochs: int, chunk_bytes: int | None) -> dict:
    """Our Laplace/ANS size vs Huffman (per tensor, shared) on the same quantized integers of
    the quality-ENTROPY_QUALITY network fitted to the first segment of ``frames`` (bytes)."""
    from models.video.codec import QUALITIES, segment_frames
    from models.video.fit import fit_segment
    from models.video.network import Decoder
    from models.video.quantize import KEY, encode_tensors, pack_segment

    config = QUALITIES[ENTROPY_QUALITY]
    segment = frames[: segment_frames(frames.shape[2], frames.shape[1])]
    start = time.perf_counter()
    fitted = fit_segment(segment, config, epochs)
    fit_s = time.perf_counter() - start
    items = [(q, steps, None) for q, steps in fitted.weights]
    items.append((*fitted.embeddings, 1))  # as pack_segment: one step per embedding channel
    ours = encode_tensors(items)
    if bytes([KEY]) + ours != pack_segment(fitted):
        raise RuntimeError("encode_tensors(items) differs from pack_segment")
    groups = sum(len(steps) for _, steps, _ in items)
    names = [*Decoder(config).state_dict(), "embeddings"]
    tensors = [{"name": n, **huffman_cost(q)} for n, (q, _, _) in zip(names, items, strict=True)]
    per_tensor_bits = sum(t["payload_bits"] + t["table_bits"] for t in tensors)
    shared = huffman_cost(np.concatenate([q.reshape(-1) for q, _, _ in items]))
    steps_bytes = groups * STEP_BITS // 8
    result = {
        "clip": ENTROPY_CLIP,
        "quality": ENTROPY_QUALITY,
        "epochs": fitted.epochs,
        "frames": len(segment),
        "fit_s": fit_s,
        "fit_psnr": fitted.psnr,
        "integers": sum(t["integers"] for t in tensors),
        "step_groups": groups,
        "ours_bytes": len(ours),
        "ours_header_bytes": 4 + groups * 5,
        "container_chunk_bytes": chunk_bytes,
        "huffman_bytes": math.ceil(per_tensor_bits / 8) + steps_bytes,
        "huffman_payload_bytes": sum(t["payload_bits"] for t in tensors) / 8,
        "huffman_table_bytes": sum(t["table_bits"] for t in tensors) / 8,
        "huffman_shared_bytes": math.ceil((shared["payload_bits"] + shared["table_bits"]) / 8)
        + steps_bytes,
        "steps_bytes": steps_bytes,
        "entropy_bound_bytes": sum(t["entropy_bits"] for t in tensors) / 8 + steps_bytes,
        "tensors": tensors,
    }
    result["ours_over_huffman"] = result["ours_bytes"] / result["huffman_bytes"]
    result["ours_over_huffman_shared"] = result["ours_bytes"] / result["huffman_shared_bytes"]
    print(json.dumps({k: v for k, v in result.items() if k != "tensors"}), flush=True)
    return result


def residual_vs_direct(frames: np.ndarray, fps: Fraction, epochs: int) -> list[dict]:
    """The clip in segments of RESIDUAL_SEGMENT frames at quality RESIDUAL_QUALITY, every
    segment a key segment (direct weights) vs residual segments after the first (weights
    fitted from the previous segment's, coded as differences): payload bytes and PSNR."""
    from codec.media.video import Video, VideoInfo
    from codec.registry import EncodeOptions
    from models.video.codec import QUALITIES, VideoCodec
    from models.video.render import SegmentRenderer

    info = VideoInfo(frames.shape[2], frames.shape[1], fps, len(frames))
    options = EncodeOptions(quality=RESIDUAL_QUALITY, mode="nerv", epochs=epochs)
    rows = []
    for name, key_interval in (("direct", 1), ("residual", len(frames))):
        start = time.perf_counter()
        codec_ = VideoCodec(segment_limit=RESIDUAL_SEGMENT, key_interval=key_interval)
        chunks = list(codec_.encode(Video(info, (f for f in frames)), options).chunks)
        encode_s = time.perf_counter() - start
        renderer = SegmentRenderer(QUALITIES[RESIDUAL_QUALITY], info.height, info.width)
        decoded = np.stack(
            [f for i, c in enumerate(chunks)
             for f in renderer.frames(c, min(RESIDUAL_SEGMENT, len(frames) - i * RESIDUAL_SEGMENT))]
        )  # fmt: skip
        row = {
            "coding": name,
            "segments": len(chunks),
            "chunk_bytes": [len(c) for c in chunks],
            "bytes": sum(len(c) for c in chunks),
            "encode_s": encode_s,
            **metrics(frames, decoded),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def hyper_residual_vs_direct(frames: np.ndarray, fps: Fraction) -> list[dict]:
    """Hyper mode at HYPER_RESIDUAL_QUALITY: every segment a key segment vs the default key
    interval (residual segments where smaller); payload bytes and PSNR (same weights)."""
    from codec.media.video import Video, VideoInfo
    from codec.registry import EncodeOptions
    from models.video.codec import VideoCodec
    from models.video.hyper import SegmentRenderer
    from models.video.hyper_weights import load_weights

    info = VideoInfo(frames.shape[2], frames.shape[1], fps, len(frames))
    step = HYPER_STEPS[HYPER_RESIDUAL_QUALITY]
    rows = []
    for name, key_interval in (("direct", 1), ("residual", None)):
        start = time.perf_counter()
        encoded = VideoCodec(key_interval=key_interval).encode(
            Video(info, (f for f in frames)), EncodeOptions(quality=HYPER_RESIDUAL_QUALITY)
        )
        chunks = list(encoded.chunks)
        encode_s = time.perf_counter() - start
        renderer = SegmentRenderer(load_weights(), step, info.height, info.width)
        per = encoded.metadata["segment_frames"]
        decoded = np.stack(
            [
                f
                for i, c in enumerate(chunks)
                for f in renderer.frames(c, min(per, len(frames) - i * per))
            ]
        )
        row = {
            "mode": "hyper",
            "coding": name,
            "segments": len(chunks),
            "residual_segments": sum(c[0] == 1 for c in chunks),
            "bytes": sum(len(c) for c in chunks),
            "encode_s": encode_s,
            **metrics(frames, decoded),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def plot(rows: list[dict], out: Path) -> list[str]:
    """rd_<clip>.png: PSNR-RGB and PSNR-Y vs bpp for every codec; returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    for clip in dict.fromkeys(r["clip"] for r in rows):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        for ax, metric, label in zip(
            axes, ("psnr_rgb", "psnr_y"), ("PSNR-RGB (dB)", "PSNR-Y (dB)"), strict=True
        ):
            for name in (*MODES.values(), *BASELINES):
                points = sorted(
                    (r["bpp"], r[metric]) for r in rows if r["clip"] == clip and r["codec"] == name
                )
                if points:
                    ours = name.startswith("ours")
                    ax.plot(*zip(*points, strict=True), "o-" if ours else ".--",
                            label=name, linewidth=2 if ours else 1)  # fmt: skip
            ax.set_xlabel("bits per pixel")
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        first = next(r for r in rows if r["clip"] == clip)
        fig.suptitle(f"{clip}: {first['frames']} frames {first['width']}x{first['height']}")
        fig.tight_layout()
        name = f"rd_{clip}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        files.append(name)
    return files


def _fmt(value: float | None, spec: str) -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (format(value, spec))
    )


def _setting(row: dict) -> str:
    if row["codec"] == MODES["nerv"]:
        return f"q{row['setting']} e{row['epochs']}"
    if row["codec"] == MODES["refine"]:
        return f"q{row['setting']} r{row['refine']}"
    return f"q{row['setting']}" if row["codec"].startswith("ours") else f"crf {row['setting']}"


def markdown(
    rows: list[dict],
    bd: list[dict],
    entropy: dict | None,
    residual: list[dict],
    hyper_residual: list[dict],
    notes: list[str],
) -> str:
    lines = [
        "| clip | codec | setting | bytes | bpp | kbps | PSNR-RGB dB | PSNR-Y dB | MS-SSIM"
        " | enc s | dec s | dec fps |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['clip']} | {r['codec']} | {_setting(r)} | {r['bytes']} | {r['bpp']:.4f} | "
            f"{r['kbps']:.1f} | {r['psnr_rgb']:.2f} | {r['psnr_y']:.2f} | "
            f"{_fmt(r['ms_ssim'], '.4f')} | {r['encode_s']:.2f} | {r['decode_s']:.2f} | "
            f"{r['decode_fps']:.1f} |"
        )
    lines += [
        "",
        "BD-rate of each of ours vs each reference (bpp; negative = ours smaller), averaged"
        " over the overlap of the dB ranges only (NaN: no overlap).",
        "",
        "| clip | ours | reference | metric | BD-rate | ours dB range | ref dB range |"
        " overlap dB |",
        "|---|---|---|---|---:|---|---|---|",
    ]
    for b in bd:
        span = "none" if b["overlap_db"] is None else "{:.2f}-{:.2f}".format(*b["overlap_db"])
        value = "NaN" if math.isnan(b["bd_rate"]) else f"{b['bd_rate']:+.1f}%"
        lines.append(
            f"| {b['clip']} | {b['ours']} | {b['reference']} | {b['metric']} | {value} | "
            "{:.2f}-{:.2f} | {:.2f}-{:.2f} | {} |".format(*b["ours_db"], *b["ref_db"], span)
        )
    if entropy:
        e = entropy
        lines += [
            "",
            f"Entropy coding vs Huffman, same quantized integers: quality {e['quality']} fitted"
            f" to {e['clip']} ({e['frames']} frames, {e['epochs']} epochs, {e['integers']}"
            f" integers, {e['step_groups']} step groups)",
            "",
            "| coder | bytes | ours / this |",
            "|---|---:|---:|",
            f"| ours (Laplace + ANS, encode_tensors) | {e['ours_bytes']} | 1.000 |",
            f"| Huffman per tensor (payload {e['huffman_payload_bytes']:.0f} + table"
            f" {e['huffman_table_bytes']:.0f} + steps {e['steps_bytes']}) | {e['huffman_bytes']}"
            f" | {e['ours_over_huffman']:.3f} |",
            f"| Huffman, one code for all tensors | {e['huffman_shared_bytes']} |"
            f" {e['ours_over_huffman_shared']:.3f} |",
            f"| empirical entropy per tensor + steps (no table) | {e['entropy_bound_bytes']:.0f}"
            f" | {e['ours_bytes'] / e['entropy_bound_bytes']:.3f} |",
        ]
    if residual:
        direct = residual[0]["bytes"]
        lines += [
            "",
            f"Residual (from_prev) vs direct weight coding: {RESIDUAL_CLIP} in segments of"
            f" {RESIDUAL_SEGMENT} frames, quality {RESIDUAL_QUALITY}, same epochs",
            "",
            "| coding | segments | payload bytes per segment | total bytes | vs direct |"
            " PSNR-RGB dB | PSNR-Y dB | enc s |",
            "|---|---:|---|---:|---:|---:|---:|---:|",
        ]
        for r in residual:
            lines.append(
                f"| {r['coding']} | {r['segments']} | {' '.join(map(str, r['chunk_bytes']))} |"
                f" {r['bytes']} | {100 * (r['bytes'] / direct - 1):+.1f}% | {r['psnr_rgb']:.2f} |"
                f" {r['psnr_y']:.2f} | {r['encode_s']:.1f} |"
            )
    if hyper_residual:
        direct = hyper_residual[0]["bytes"]
        lines += [
            "",
            f"Hyper mode, residual vs direct: {RESIDUAL_CLIP}, quality {HYPER_RESIDUAL_QUALITY},"
            " no refinement",
            "",
            "| coding | segments | residual segments | total bytes | vs direct | PSNR-RGB dB |"
            " PSNR-Y dB | enc s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in hyper_residual:
            lines.append(
                f"| {r['coding']} | {r['segments']} | {r['residual_segments']} | {r['bytes']} |"
                f" {100 * (r['bytes'] / direct - 1):+.1f}% | {r['psnr_rgb']:.2f} |"
                f" {r['psnr_y']:.2f} | {r['encode_s']:.1f} |"
            )
    lines += ["", *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "eval_video")
    parser.add_argument("--clips", nargs="+", default=list(CLIPS), help=f"subset of {list(CLIPS)}")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--qualities", nargs="+", type=int, default=[1, 2, 3], help="nerv")
    parser.add_argument("--hyper-qualities", nargs="+", type=int, default=list(HYPER_STEPS))
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="nerv fitting passes")
    parser.add_argument("--refine", type=int, default=32, help="hyper+refine steps per segment")
    parser.add_argument("--threads", type=int, default=2, help="torch and FFmpeg threads")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: last qualities, 2 epochs, 3 CRFs"
    )
    args = parser.parse_args()
    by_name = {name.lower(): name for name in CLIPS}
    unknown = [c for c in args.clips if c.lower() not in by_name]
    if unknown:
        parser.error(f"unknown clips {unknown}: choose from {list(CLIPS)}")
    clips = [by_name[c.lower()] for c in args.clips]
    ours = ours_runs(args)
    epochs = 2 if args.quick else args.epochs
    torch.set_num_threads(args.threads)
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1: errors only
    args.out.mkdir(parents=True, exist_ok=True)
    import av

    ffmpeg = getattr(av, "ffmpeg_version_info", "?")
    notes = [
        f"Baselines: FFmpeg {ffmpeg} via PyAV {av.__version__}, yuv420p, mp4; x264/x265 preset"
        " medium, SVT-AV1 preset 8.",
        "Ours: "
        + ", ".join(f"{name} q{q} {opts}" for name, q, opts in ours)
        + f"; {args.threads} threads.",
        "bpp and kbps count whole files (container included); kbps uses the clip's fps "
        "(BasketballPass 50, cars 25).",
        "PSNR: mean over frames of per-frame PSNR; PSNR-Y on BT.601 luma from RGB.",
    ]
    if _ms_ssim is None:
        notes.append("MS-SSIM skipped: pytorch_msssim is not installed.")
    rows: list[dict] = []
    entropy, residual, hyper_residual = None, [], []
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            clip_rows, frames = rd_rows(clip, args.quick, ours, args.threads, Path(tmp))
            rows += clip_rows
            if not msssim_ok(frames):
                notes.append(f"{clip}: MS-SSIM not computed (package or frame size).")
            if clip == ENTROPY_CLIP and "nerv" in args.modes:
                nerv = [r for r in clip_rows if r["codec"] == MODES["nerv"]]
                chunk = [r["chunk_bytes"] for r in nerv if r["setting"] == ENTROPY_QUALITY]
                single = chunk[0][0] if chunk and len(chunk[0]) == 1 else None
                entropy = entropy_vs_huffman(frames, epochs, single)
            if clip == RESIDUAL_CLIP and not args.quick:
                if "nerv" in args.modes:
                    residual = residual_vs_direct(frames, CLIPS[clip][1], epochs)
                if {"hyper", "refine"} & set(args.modes):
                    hyper_residual = hyper_residual_vs_direct(frames, CLIPS[clip][1])
    bd = bd_rows(rows)
    images = plot(rows, args.out)
    if entropy is None:
        notes.append(f"Entropy vs Huffman skipped: needs {ENTROPY_CLIP} in --clips.")
    elif entropy["container_chunk_bytes"] is not None:
        notes.append(
            f"Entropy check: the quality-{ENTROPY_QUALITY} file's chunk is "
            f"{entropy['container_chunk_bytes']} bytes, the separate fit gives "
            f"{entropy['ours_bytes']} + 1 kind byte (equal when the fit is reproducible)."
        )
    config = {"clips": clips, "ours": ours, "threads": args.threads, "quick": args.quick}
    result = {"config": config, "notes": notes, "rows": rows, "bd_rate": bd,
              "entropy_vs_huffman": entropy, "residual_vs_direct": residual,
              "hyper_residual_vs_direct": hyper_residual, "plots": images}  # fmt: skip
    (args.out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    table = markdown(rows, bd, entropy, residual, hyper_residual, notes)
    (args.out / "results.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()

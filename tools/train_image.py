"""Train the image codec network (one variable-rate model for every lambda in LAMBDAS).

    python tools/train_image.py --data ~/.cache/codec/image_train --run ~/.cache/codec/run_image \
        [--minutes 120] [--crop 128] [--batch 8] [--lr 1e-4]

Data: the .npy images written by tools/fetch_image_data.py (shared/data/image/train plus
Debian wallpaper photos) -- never Kodak. The last --holdout images are not trained on and
give the validation numbers in the log.

Each sample of a batch draws its own rate level; loss = bpp + lambda * 255^2 * MSE per sample,
averaged. The EntropyBottleneck's quantile (aux) loss has its own optimizer, as in CompressAI.
An exponential moving average of the weights (``--ema-decay``) rides along: single
checkpoints of a batch-8 run swing by ~1 dB on validation, their average does not, and the
exporter ships the average.
The run folder holds ``latest.pt`` (model, its average, optimizers, step; rewritten atomically every
--save-every seconds, at the end and on SIGTERM) and ``train.log``. Re-running the same
command resumes.
On a new machine, ``--init models/weights/image-v1.safetensors`` starts a run from the
shipped weights (they carry float copies of every trained tensor; optimizer state restarts).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.image.network import (  # noqa: E402
    BLOCK_COUNTS,
    LAMBDAS,
    BottleneckBlock,
    ImageNetwork,
    NetworkConfig,
    describe_blocks,
    grown_state,
)
from tools.cpu_bf16 import emulated_bf16_warning  # noqa: E402
from tools.run_state import save_run_state, stop_on_sigterm  # noqa: E402


def training_paths(folder: Path) -> list[Path]:
    """The sorted ``.npy`` training images of ``folder`` (the held-out ones last); refuses an
    empty folder and Kodak files."""
    paths = sorted(folder.glob("*.npy"))
    if not paths:
        raise SystemExit(f"no .npy images in {folder}: run tools/fetch_image_data.py first")
    if any("kodim" in p.name.lower() for p in paths):
        raise SystemExit("refusing to train on Kodak images")
    return paths


def load_images(folder: Path) -> list[np.ndarray]:
    return [np.load(p) for p in training_paths(folder)]


def random_batch(images: list[np.ndarray], batch: int, crop: int, rng: random.Random):
    crops = []
    for _ in range(batch):
        image = images[rng.randrange(len(images))]
        h, w, _ = image.shape
        top, left = rng.randrange(h - crop + 1), rng.randrange(w - crop + 1)
        patch = image[top : top + crop, left : left + crop]
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        if rng.random() < 0.5:
            patch = patch[::-1]
        crops.append(np.ascontiguousarray(patch))
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255.0
    return x


def rd_terms(out: dict, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample bits per pixel and MSE (on [0,1] pixels)."""
    pixels = x.shape[2] * x.shape[3]
    bits = sum(-torch.log2(out[k]).flatten(1).sum(1) for k in ("y", "z"))
    mse = (out["x_hat"] - x).pow(2).flatten(1).mean(1)
    return bits / pixels, mse


def state_from_shipped(path: Path) -> dict:
    """Training state (model, step, config and, from weights that record them, the training
    segments) from a shipped weights file written by the exporter."""
    from safetensors import safe_open

    from models.image.model import float_training_state, network_config

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118
    state = {
        "model": float_training_state(tensors),
        "step": int(meta.get("step", 0)),
        "config": network_config(meta).run_config(),
    }
    if "segments" in meta:
        state["segments"] = json.loads(meta["segments"])
    return state


def add_low_levels(model_state: dict[str, torch.Tensor], levels: int) -> int:
    """Grow the (L,M) gain tables of ``model_state`` to ``levels`` rows when LAMBDAS gained
    levels below the trained ones: each new lowest row starts one geometric step beyond the
    current lowest (g_-1 = g_0^2 / g_1, what the gain-unit interpolation extrapolates).
    Returns the number of rows added."""
    added = levels - model_state["gain"].shape[0]
    for key in ("gain", "inverse_gain"):
        table = model_state[key]
        for _ in range(added):
            table = torch.cat([table[:1].abs() ** 2 / table[1:2].abs(), table])
        model_state[key] = table
    return added


class WeightAverage:
    """Exponential moving average of a network's floating-point state (parameters and
    buffers); integer buffers are taken from the live network when the average is used."""

    def __init__(self, net: nn.Module, decay: float, state: dict | None = None) -> None:
        self.decay = decay
        live = net.state_dict()
        self.state = {
            k: (state[k] if state and k in state else v).detach().clone()
            for k, v in live.items()
            if v.is_floating_point()
        }

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        live = net.state_dict()
        for k, average in self.state.items():
            average.lerp_(live[k], 1.0 - self.decay)

    def network_state(self, net: nn.Module) -> dict[str, torch.Tensor]:
        """The live network's state with every floating-point tensor replaced by its average."""
        return {**net.state_dict(), **self.state}


def averaged_state(state: dict) -> dict[str, torch.Tensor]:
    """The weights to ship from a run state: the average when the run kept one."""
    return {**state["model"], **state.get("ema", {})}


def averaged_network(state: dict) -> ImageNetwork:
    """A float network built from a run state's config, holding its shipped weights."""
    net = ImageNetwork(NetworkConfig.from_run(state["config"]))
    net.load_state_dict(averaged_state(state))
    return net


#: Settings of runs that predate the recorded segments (the defaults until 2026-11-27); a
#: segment recorded before learning rates were recorded ran at this one's ``lr``.
FIRST_SEGMENT = {
    "from": 0,
    "crop": 128,
    "batch": 8,
    "bf16": False,
    "lr": 1e-4,
    **dict.fromkeys(BLOCK_COUNTS, 0),
    "device": "cpu",
}
SEGMENT_SETTINGS = ("crop", "batch", "bf16", "lr", *BLOCK_COUNTS, "device")


def recorded_segments(segments: list[dict] | None, step: int) -> list[dict]:
    """A run state's segments with every setting filled in (FIRST_SEGMENT's for the settings
    recorded later; FIRST_SEGMENT alone for a run at step > 0 that recorded none)."""
    if not segments:
        return [FIRST_SEGMENT] if step else []
    return [{**FIRST_SEGMENT, **s} for s in segments]


def recipe_segments(
    segments: list[dict] | None, step: int, args: argparse.Namespace, network: NetworkConfig
) -> list[dict]:
    """The run's history of training settings, one dict per stretch of steps (``from`` step,
    ``crop``, ``batch``, ``bf16``, Adam ``lr``, the transforms' block counts (BLOCK_COUNTS),
    ``device`` type),
    extended when this session's settings differ from the last stretch; the exporter writes
    it into the weights manifest."""
    segments = recorded_segments(segments, step)
    now = {
        "from": step,
        "crop": args.crop,
        "batch": args.batch,
        "bf16": args.bf16,
        "lr": args.lr,
        **network.block_counts(),
        "device": torch.device(args.device).type,
    }
    if not segments or any(segments[-1][k] != now[k] for k in SEGMENT_SETTINGS):
        segments.append(now)
    return segments


def describe_segments(segments: list[dict]) -> str:
    """'Adam lr 1e-4, batch 8 of 128x128 crops from step 0; Adam lr 1e-4, batch 4 of 256x256
    crops, bf16 transforms from step 42110' for the manifest."""
    return "; ".join(
        f"Adam lr {learning_rate_text(s['lr'])}, "
        f"batch {s['batch']} of {s['crop']}x{s['crop']} crops"
        + (", bf16 transforms" if s["bf16"] else "")
        + (f", {s['blocks']} residual blocks per transform stage" if s["blocks"] else "")
        + (f", {s['half_blocks']} at 1/2 resolution" if s["half_blocks"] else "")
        + (
            f", g_a {s['g_a_extra_blocks']} + {s['g_a_extra_half_blocks']} more"
            if s["g_a_extra_blocks"] or s["g_a_extra_half_blocks"]
            else ""
        )
        + (f", on {s['device']}" if s["device"] != "cpu" else "")
        + f" from step {s['from']}"
        for s in segments
    )


def learning_rate_text(lr: float) -> str:
    """3e-05 -> '3e-5'; 0.00025 -> '2.5e-4'."""
    mantissa, exponent = f"{lr:.2e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


REPORT_LEVELS = (0, 2, 5, 8)  # 2, 5, 8: the lambdas of levels 0, 3, 6 before 2026-11-26


def psnr_8bit(x_hat: torch.Tensor, x: torch.Tensor) -> float:
    """PSNR in dB of x_hat, clamped to [0, 1] and rounded to 8 bits, against x (same shape)."""
    x_hat = torch.round(x_hat.clamp(0, 1) * 255) / 255
    return -10 * math.log10(max((x_hat - x).pow(2).mean().item(), 1e-10))


@torch.no_grad()
def held_out_rd(net: ImageNetwork, images: list[np.ndarray]) -> list[tuple[float, float, float]]:
    """(bits per pixel, PSNR dB, transform ceiling dB) per level of REPORT_LEVELS, averaged
    over ``images`` (cropped to multiples of 64). Bits and PSNR as coded: rounded latents (the
    float model's -log2 likelihood; the real files stay within a few % of it, see the
    exporter's integer-path line) and 8-bit decoded pixels. The training loss's noisy-latent
    rate overstates the low levels (0.28 instead of 0.12 bpp at level 0 at step 42,116). The
    ceiling is the PSNR of the transforms alone, g_s(g_a(x) * gain * inverse gain) without
    quantization: no rate can decode better than it (docs/image.md, "Transform ceiling")."""
    was_training = net.training
    net.eval()
    device = net.gain.device
    rows = []
    for level in REPORT_LEVELS:
        bits = pixels = 0.0
        psnrs, ceilings = [], []
        rate = torch.tensor([float(level)], device=device)
        gain, inverse_gain = net.gains(rate)
        for image in images:
            h, w = (image.shape[0] // 64) * 64, (image.shape[1] // 64) * 64
            x = (
                torch.from_numpy(image[:h, :w].copy())
                .permute(2, 0, 1)[None]
                .to(device, torch.float32)
                / 255
            )
            y = net.g_a(x) * gain
            y_hat, y_bits, z_bits = net.rounded_latents(y)
            bits += float(y_bits + z_bits)
            pixels += h * w
            psnrs.append(psnr_8bit(net.g_s(y_hat * inverse_gain), x))
            ceilings.append(psnr_8bit(net.g_s(y * inverse_gain), x))
        rows.append((bits / pixels, float(np.mean(psnrs)), float(np.mean(ceilings))))
    net.train(was_training)
    return rows


def describe_rd(rows: list[tuple[float, float, float]]) -> str:
    pairs = zip(REPORT_LEVELS, rows, strict=True)
    return " | ".join(
        f"L{level}: {bpp:.4f} bpp {psnr:.2f} dB (ceiling {ceiling:.2f})"
        for level, (bpp, psnr, ceiling) in pairs
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path.home() / ".cache/codec/image_train")
    parser.add_argument("--run", type=Path, default=Path.home() / ".cache/codec/run_image")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--n", type=int, default=96)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--holdout", type=int, default=3)
    parser.add_argument("--save-every", type=float, default=300.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--init", type=Path, help="shipped weights to start a new run from")
    parser.add_argument(
        "--blocks",
        type=int,
        help="grow the transforms to this many residual blocks per stage at 1/4 and 1/8 "
        "resolution (identity at first)",
    )
    parser.add_argument(
        "--half-blocks",
        type=int,
        help="grow the transforms to this many residual blocks at 1/2 resolution",
    )
    parser.add_argument(
        "--g-a-extra-blocks",
        type=int,
        help="grow g_a alone to this many blocks per stage at 1/4 and 1/8 resolution beyond "
        "--blocks (encoder capacity; the decoder does not run g_a)",
    )
    parser.add_argument(
        "--g-a-extra-half-blocks",
        type=int,
        help="grow g_a alone to this many blocks at 1/2 resolution beyond --half-blocks",
    )
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument(
        "--bf16",
        action="store_true",
        help="g_a/g_s in bfloat16 autocast (faster with AMX-BF16, see bench_image_training)",
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)
    log_path = args.run / "train.log"

    def log(message: str) -> None:
        with open(log_path, "a") as f:
            print(message, file=f)

    if args.bf16 and (warning := emulated_bf16_warning(args.device)):
        print(warning, file=sys.stderr)
        log(warning)
    images = load_images(args.data)
    train, held_out = images[: -args.holdout], images[-args.holdout :]

    checkpoint = args.run / "latest.pt"
    state = None
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=args.device, weights_only=True)
    elif args.init is not None:
        state = state_from_shipped(args.init)
    growth = {
        count: getattr(args, count) for count in BLOCK_COUNTS if getattr(args, count) is not None
    }
    config = state["config"] if state else {"n": args.n, **growth}
    grown_from = None
    if state and any(config.get(key, 0) != value for key, value in growth.items()):
        grown_from = NetworkConfig.from_run(config)
        config = {**config, **growth}
        grown_to = NetworkConfig.from_run(config)
        for key in ("model", "ema"):
            if key in state:
                state[key] = grown_state(state[key], grown_from, grown_to)
        state.pop("optimizer", None)  # parameter order changed: Adam restarts
    network_config = NetworkConfig.from_run(config)
    net = ImageNetwork(network_config).to(args.device)
    net.bf16_transforms = args.bf16
    named = dict(net.named_parameters())
    gain_params = [named["gain"], named["inverse_gain"]]
    aux_params = [p for n, p in named.items() if n.endswith(".quantiles")]
    block_params = [
        p
        for module in net.modules()
        if isinstance(module, BottleneckBlock)
        for p in module.parameters()
    ]
    in_blocks = {id(p) for p in block_params}
    main_params = [
        p
        for n, p in named.items()
        if not n.endswith(".quantiles") and "gain" not in n and id(p) not in in_blocks
    ]
    # Gains move in large relative steps (levels differ ~7x): they learn 10x faster. Residual
    # blocks join trained transforms at identity (--blocks): they learn 3x faster.
    learning_rate_factors = (1, 10, 3) if block_params else (1, 10)
    parameter_groups = (main_params, gain_params, block_params)
    optimizer = torch.optim.Adam(
        [
            {"params": params, "lr": factor * args.lr}
            for params, factor in zip(parameter_groups, learning_rate_factors, strict=False)
        ]
    )
    aux_optimizer = torch.optim.Adam(aux_params, lr=1e-3)
    step = 0
    if state:
        added = add_low_levels(state["model"], len(LAMBDAS))
        if "ema" in state:
            add_low_levels(state["ema"], len(LAMBDAS))
        net.load_state_dict(state["model"], strict=grown_from is None)
        if "optimizer" in state:  # absent right after tools/iscs_image.py
            optimizer.load_state_dict(state["optimizer"])
            aux_optimizer.load_state_dict(state["aux_optimizer"])
            if added:  # Adam moments of the old (L,M) gain tables no longer fit
                for p in gain_params:
                    optimizer.state.pop(p, None)
        if added:
            log(f"added {added} rate levels below the trained ones (LAMBDAS {LAMBDAS})")
        if grown_from is not None:
            log(
                f"grew transforms from {describe_blocks(grown_from)} to "
                f"{describe_blocks(network_config)} (1/4 and 1/8 stages + 1/2 stage)"
            )
        step = state["step"]
        for group, factor in zip(optimizer.param_groups, learning_rate_factors, strict=True):
            group["lr"] = factor * args.lr
        log(f"resumed at step {step} (groups: {network_config.groups})")
    segments = recipe_segments(state.get("segments") if state else None, step, args, network_config)
    average = WeightAverage(net, args.ema_decay, state.get("ema") if state else None)
    averaged_net = ImageNetwork(network_config).to(args.device)

    def validate_both() -> str:
        averaged_net.load_state_dict(average.network_state(net))
        live, averaged = held_out_rd(net, held_out), held_out_rd(averaged_net, held_out)
        return f"(as coded) {describe_rd(live)}; average {describe_rd(averaged)}"

    log(f"start step {step}: {len(train)} train / {len(held_out)} held-out images; {args}")

    rng = random.Random(step)
    lambdas = torch.tensor(LAMBDAS, device=args.device)
    start = last_save = window_start = time.time()
    window: list[tuple[float, float, float]] = []

    def save() -> None:
        state = {
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "aux_optimizer": aux_optimizer.state_dict(),
            "ema": average.state,
            "ema_decay": average.decay,
            "step": step,
            "config": config,
            "segments": segments,
        }
        save_run_state(checkpoint, state)

    stop = stop_on_sigterm()
    while time.time() - start < args.minutes * 60 and not stop:
        x = random_batch(train, args.batch, args.crop, rng).to(args.device)
        levels = torch.randint(0, len(LAMBDAS), (args.batch,), device=args.device)
        out = net(x, levels.float())
        bpp, mse = rd_terms(out, x)
        loss = (bpp + lambdas[levels] * 255**2 * mse).mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main_params + gain_params + block_params, 1.0)
        optimizer.step()
        aux_loss = net.entropy_bottleneck.loss()
        aux_optimizer.zero_grad()
        aux_loss.backward()
        aux_optimizer.step()
        average.update(net)
        step += 1
        window.append((loss.item(), bpp.mean().item(), mse.mean().item()))
        if step % 50 == 0:
            mean = np.mean(window, axis=0)
            rate = len(window) / (time.time() - window_start)
            log(
                f"step {step} loss {mean[0]:.4f} bpp {mean[1]:.3f} "
                f"psnr {-10 * math.log10(mean[2]):.2f} aux {aux_loss.item():.1f} {rate:.2f} it/s"
            )
            window, window_start = [], time.time()
        if step % 1000 == 0:
            log(f"step {step} validation {validate_both()}")
        if time.time() - last_save > args.save_every:
            save()
            last_save = time.time()
    save()
    log(f"stop at step {step}; validation {validate_both()}")


if __name__ == "__main__":
    main()

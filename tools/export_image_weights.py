"""Export a training checkpoint to the shipped image weights (safetensors) + manifest entry.

    python tools/export_image_weights.py --run ~/.cache/codec/run_image \
        --data ~/.cache/codec/image_train [--out models/weights/image-hp-v1.safetensors]

Ships the run's weight average when it kept one (tools/train_image.py --ema-decay).
Converts the hyper-synthesis and the per-group context networks to integer networks
(activation ranges calibrated on training crops, never Kodak), turns the factorized prior of
the hyper-latent into integer tables, stores the float transforms as float16, and records
name, sha256, data, steps and lambdas in models/weights/MANIFEST.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from entropy.tables import TableSet  # noqa: E402
from models.image.context import LATENT_BOUND  # noqa: E402
from models.image.integer import export_integer_network  # noqa: E402
from models.image.model import HYPER_INPUT_BOUND  # noqa: E402
from models.image.network import (  # noqa: E402
    LAMBDAS,
    MEAN_STEPS,
    SCALE_LEVELS,
    ImageNetwork,
)
from models.shipped import record_in_manifest  # noqa: E402
from tools.train_image import (  # noqa: E402
    averaged_network,
    describe_segments,
    load_images,
    random_batch,
    recorded_segments,
)

Z_TAIL_RADIUS = 128


@torch.no_grad()
def hyper_latent_tables(net: ImageNetwork) -> dict[str, torch.Tensor]:
    """Integer tables of the factorized prior at integer points (z_hat = round(z))."""
    eb = net.entropy_bottleneck
    channels = net.config.z
    quantiles = eb.quantiles.detach()[:, 0, :]  # (Z, 3): low, median, high
    low = torch.floor(quantiles[:, 0]).clamp(-Z_TAIL_RADIUS, 0).long()
    high = torch.ceil(quantiles[:, 2]).clamp(0, Z_TAIL_RADIUS).long()
    support = torch.arange(-Z_TAIL_RADIUS, Z_TAIL_RADIUS + 1, dtype=torch.float32)
    likelihood, _, _ = eb._likelihood(support.repeat(channels, 1, 1))  # (Z, 1, 2R+1)
    pmfs, offsets, tails = [], [], []
    for c in range(channels):
        start, stop = int(low[c]) + Z_TAIL_RADIUS, int(high[c]) + Z_TAIL_RADIUS + 1
        pmf = likelihood[c, 0, start:stop].double().numpy()
        pmfs.append(pmf)
        offsets.append(int(low[c]))
        tails.append(max(1.0 - pmf.sum(), 1e-9))
    tables = TableSet.from_probabilities(pmfs, np.array(offsets), np.array(tails), name="z")
    width = max(len(row) for row in tables.frequencies)
    frequencies = np.zeros((channels, width), dtype=np.int32)
    for c, row in enumerate(tables.frequencies):
        frequencies[c, : len(row)] = row
    return {
        "z_tables.frequencies": torch.from_numpy(frequencies),
        "z_tables.lengths": torch.tensor([len(r) for r in tables.frequencies]),
        "z_tables.offsets": torch.from_numpy(tables.offsets.copy()),
    }


@torch.no_grad()
def calibration_inputs(net: ImageNetwork, data: Path) -> dict[str, torch.Tensor]:
    """Inputs seen by h_s ("h_s") and by each context network ("context.k") on eight
    256x256 training crops at *every* rate level, captured with forward pre-hooks during
    normal forward passes. Every level matters: the activations grow with the rate, and
    ranges calibrated without the top levels clipped them (files at quality 9 were 11 %
    larger than the float model's estimate)."""
    images = load_images(data)
    rng = random.Random(0)
    captured: dict[str, list[torch.Tensor]] = {}
    modules = {"h_s": net.h_s}
    if net.context is not None:
        modules.update({f"context.{k}": m for k, m in enumerate(net.context.nets)})
    hooks = [
        module.register_forward_pre_hook(
            lambda _m, args, name=name: captured.setdefault(name, []).append(args[0].detach())
        )
        for name, module in modules.items()
    ]
    for level in range(len(LAMBDAS)):
        x = random_batch(images, 8, 256, rng)
        net(x, torch.full((8,), float(level)))
    for hook in hooks:
        hook.remove()
    return {name: torch.round(torch.cat(values)) for name, values in captured.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=Path.home() / ".cache/codec/run_image")
    parser.add_argument("--data", type=Path, default=Path.home() / ".cache/codec/image_train")
    parser.add_argument("--out", type=Path, default=ROOT / "models/weights/image-v1.safetensors")
    args = parser.parse_args()

    state = torch.load(args.run / "latest.pt", map_location="cpu", weights_only=True)
    net = averaged_network(state)
    config = net.config
    net.eval()
    m = config.m
    calibration = calibration_inputs(net, args.data)
    # Without groups h_s predicts means in latent units: one output step is 1/MEAN_STEPS.
    mean_step = 1.0 if config.groups else 1.0 / MEAN_STEPS
    output_scales = torch.cat([torch.full((m,), mean_step), torch.ones(m)])
    output_low = torch.cat([torch.full((m,), -(2.0**20)), torch.zeros(m)])
    output_high = torch.cat([torch.full((m,), 2.0**20), torch.full((m,), SCALE_LEVELS - 1.0)])
    h_s = export_integer_network(
        net.h_s, calibration["h_s"], HYPER_INPUT_BOUND, output_scales, output_low, output_high
    )
    tensors = {
        k: v.half() if k.split(".")[0] in ("g_a", "h_a", "g_s") else v.float()
        for k, v in net.state_dict().items()
        if k.split(".")[0] in ("g_a", "h_a", "g_s", "gain", "inverse_gain")
    }
    # Float copies of everything else, so training can resume from the shipped file alone.
    tensors.update(
        {
            f"train.{k}": v.float() if k.startswith("entropy_bottleneck") else v.half()
            for k, v in net.state_dict().items()
            if k.split(".")[0] in ("h_s", "context", "entropy_bottleneck")
        }
    )
    tensors.update(h_s.tensors("h_s"))
    for k, context_net in enumerate(net.context.nets if net.context is not None else []):
        size = config.groups[k]
        integer_net = export_integer_network(
            context_net,
            calibration[f"context.{k}"],
            LATENT_BOUND,
            torch.ones(2 * size),
            torch.cat(
                [torch.full((size,), -(2.0**20)), torch.full((size,), -(SCALE_LEVELS - 1.0))]
            ),
            torch.cat([torch.full((size,), 2.0**20), torch.full((size,), SCALE_LEVELS - 1.0)]),
        )
        tensors.update(integer_net.tensors(f"context.{k}"))
    tensors.update(hyper_latent_tables(net))
    name = args.out.stem
    groups = config.groups or (config.m,)
    segments = recorded_segments(state.get("segments"), state["step"])
    metadata = {
        "name": name,
        "n": str(config.n),
        "m": str(config.m),
        "z": str(config.z),
        "groups": ",".join(str(g) for g in groups),
        **{count: str(value) for count, value in config.block_counts().items()},
        "step": str(state["step"]),
        "segments": json.dumps(segments),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(args.out), metadata)
    args.out.chmod(0o644)
    training = {
        "data": "shared/data/image/train + Debian wallpaper photos (tools/fetch_image_data.py)",
        "steps": state["step"],
        "lambdas": list(LAMBDAS),
        "recipe": "tools/train_image.py ("
        + describe_segments(segments)
        + ")"
        + (f", weight average (EMA {state['ema_decay']})" if "ema_decay" in state else "")
        + (", then tools/iscs_image.py + grouped context" if config.groups else "")
        + (
            ", entropy model polished for {steps} steps on {crop}x{crop} crops "
            "(tools/polish_image_entropy.py)".format(**state["polished"])
            if "polished" in state
            else ""
        ),
        "network": {
            "n": config.n,
            "m": config.m,
            "z": config.z,
            "groups": list(groups),
            **config.block_counts(),
        },
    }
    exported = record_in_manifest(args.out, "image", training)
    print(f"{args.out}: {args.out.stat().st_size} bytes, {exported}, step {state['step']}")
    integer_path_cost(net, args.out, load_images(args.data)[-3:])


@torch.no_grad()
def integer_path_cost(net: ImageNetwork, weights: Path, images: list[np.ndarray]) -> None:
    """Latent bits of real files (integer entropy parameters) vs the float network's own
    estimate (-log2 likelihood at the rounded latents), on held-out training photos. Both
    round to nearest (the encoder's rate-distortion optimised rounding is off here)."""
    from models.image.codec import QUALITIES, code_latent, load_model, padded_input

    model, _ = load_model(weights)
    for quality in (QUALITIES[0], QUALITIES[len(QUALITIES) // 2], QUALITIES[-1]):
        file_bits = float_bits = 0.0
        for image in images:
            h, w = (image.shape[0] // 64) * 64, (image.shape[1] // 64) * 64
            x = padded_input(np.ascontiguousarray(image[:h, :w]))
            chunks, _ = code_latent(model, model.analysis(x, quality - 1.0), rd_weight=0.0)
            file_bits += 8 * sum(len(chunk) for chunk in chunks[1:])
            float_bits += float(net.code_rounded(x, torch.tensor([quality - 1.0]))[1])
        print(f"quality {quality}: integer-path file bits / float estimate = "
              f"{file_bits / float_bits:.4f}")  # fmt: skip


if __name__ == "__main__":
    main()

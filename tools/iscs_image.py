"""Reorder and group the latent channels of a trained hyperprior-phase model (ISCS) and
start the grouped-context phase from it.

    python tools/iscs_image.py --run ~/.cache/codec/run_image --out ~/.cache/codec/run_image_ctx

Reads run/latest.pt, ranks channels by parameter saliency (models.image.iscs), permutes
every tensor that touches the latent channels, derives the group sizes, adds zero-initialised
context networks (so the new model starts out computing exactly what the old one did) and
writes out/latest.pt for tools/train_image.py to continue (fresh optimizer state).

With --kodak it also measures what the ordering buys for preview decoding: PSNR when only
the first k groups are decoded (the others take their hyper means): ISCS order and sizes,
ISCS order with ELIC's sizes (16,16,32,64,64), and the natural order with ELIC's sizes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.image.iscs import channel_saliency, group_sizes, permute_state, redundancy  # noqa: E402
from models.image.network import (  # noqa: E402
    MEAN_STEPS,
    ImageNetwork,
    NetworkConfig,
    gain_spread,
)

ELIC_SIZES = (16, 16, 32, 64, 64)


@torch.no_grad()
def preview_psnr(net: ImageNetwork, images: list, sizes, order, rate: float = 3.0) -> list[float]:
    """Mean PSNR (dB) over images when decoding the first k = 0..len(sizes) groups."""
    import math

    psnrs = [[] for _ in range(len(sizes) + 1)]
    for image in images:
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
        gain, inverse_gain = net.gains(torch.tensor([rate]))
        y = (net.g_a(x) * gain)[:, order]
        z = torch.round(net.h_a(net.g_a(x) * gain))
        means = net.h_s(z)[:, : y.shape[1]][:, order]
        y_hat = torch.round(y - means) + means
        edges = [0, *torch.cumsum(torch.tensor(sizes), 0).tolist()]
        for k in range(len(sizes) + 1):
            mixed = means.clone()
            mixed[:, : edges[k]] = y_hat[:, : edges[k]]
            restored = torch.empty_like(mixed)
            restored[:, order] = mixed
            x_hat = net.g_s(restored * inverse_gain).clamp(0, 1)
            mse = torch.mean((torch.round(x_hat * 255) - torch.round(x * 255)) ** 2).item()
            psnrs[k].append(10 * math.log10(255**2 / max(mse, 1e-10)))
    return [sum(v) / len(v) for v in psnrs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--kodak", type=Path, help="measure preview PSNR vs k on these PNGs")
    parser.add_argument(
        "--spread-gains",
        action="store_true",
        help="multiply level l's gains by sqrt(lambda_l / middle lambda) (runs begun before "
        "networks were initialised that way)",
    )
    args = parser.parse_args()
    state = torch.load(args.run / "latest.pt", map_location="cpu", weights_only=True)
    if state["config"].get("groups"):
        raise SystemExit("this checkpoint already has channel groups")
    model = dict(state["model"])
    if args.spread_gains:
        spread = gain_spread(model["gain"].shape[0])[:, None]
        model["gain"] = model["gain"] * spread
        model["inverse_gain"] = model["inverse_gain"] / spread
    saliency = channel_saliency(model)
    order = torch.argsort(saliency, descending=True)
    sizes = group_sizes(saliency[order])
    network = ImageNetwork(NetworkConfig.from_run({**state["config"], "groups": sizes}))
    result = network.load_state_dict(permute_state(model, order, float(MEAN_STEPS)), strict=False)
    unexpected = [k for k in result.missing_keys if not k.startswith("context.")]
    if unexpected or result.unexpected_keys:
        raise SystemExit(f"state mismatch: {unexpected or result.unexpected_keys}")
    args.out.mkdir(parents=True, exist_ok=True)
    config = {
        **state["config"],
        "groups": list(sizes),
        "iscs_order": order.tolist(),
        "gains_spread_at_step": state["step"] if args.spread_gains else None,
    }
    torch.save(
        {"model": network.state_dict(), "step": state["step"], "config": config},
        args.out / "latest.pt",
    )
    report = {
        "step": state["step"],
        "group_sizes": sizes,
        "saliency_top8": saliency[order[:8]].tolist(),
        "saliency_bottom8": saliency[order[-8:]].tolist(),
        "top16_filter_correlation_iscs": redundancy(model, order),
        "top16_filter_correlation_natural": redundancy(model, torch.arange(order.numel())),
    }
    if args.kodak:
        import numpy as np
        from PIL import Image

        images = [
            np.asarray(Image.open(p).convert("RGB")) for p in sorted(args.kodak.glob("*.png"))
        ]
        base = ImageNetwork(NetworkConfig.from_run(state["config"]))
        base.load_state_dict(model)
        base.eval()
        report["preview_psnr_iscs"] = preview_psnr(base, images, sizes, order)
        natural = torch.arange(order.numel())
        report["preview_psnr_iscs_order_elic_sizes"] = preview_psnr(base, images, ELIC_SIZES, order)
        report["preview_psnr_natural_order_elic_sizes"] = preview_psnr(
            base, images, ELIC_SIZES, natural
        )
    (args.out / "iscs.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

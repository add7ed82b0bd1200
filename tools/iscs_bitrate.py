"""What ISCS channel ordering and grouping buy in bitrate.

    python tools/iscs_bitrate.py --run ~/.cache/codec/run_image_ctx \
        --data ~/.cache/codec/image_train [--steps 1500] [--images 30]

The transforms, hyperprior and gains of the run (its weight average) stay fixed: their gained
latents and hyper parameters on training photos are computed once, at rate levels 2, 5, 8.
For each variant (a channel order and group sizes) fresh grouped-context networks
(models.image.context) are trained from scratch with the same budget (Adam, --steps steps of
the same 16x16-latent crops) on the relaxed rate of the latents (uniform noise, as in
training); then the real latent rate (rounded residuals, no noise) is measured on the three
held-out training photos. Variants: ISCS order with ISCS sizes (recomputed from the current
parameters); a random order (a network's own channel order is arbitrary: it comes from the
random initialisation) with ELIC's and with ISCS sizes; the run's order and sizes (ISCS of
phase 2), for comparison with the run's own, jointly trained context. Kodak is not used.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.image.context import GroupedContext  # noqa: E402
from models.image.iscs import channel_saliency, group_sizes  # noqa: E402
from models.image.network import (  # noqa: E402
    MEAN_STEPS,
    ImageNetwork,
    NetworkConfig,
    gaussian_likelihood,
    scale_from_index,
)
from tools.iscs_image import ELIC_SIZES  # noqa: E402
from tools.train_image import averaged_state, load_images  # noqa: E402

LEVELS = (2, 5, 8)
CROP = 16  # latent crop side (256x256 pixels)
BATCH = 8


@torch.no_grad()
def latents(net: ImageNetwork, image: np.ndarray, level: int) -> tuple[torch.Tensor, ...]:
    """Gained latent y (1,M,h,w) and h_s output (1,2M,h,w: means in 1/16 steps, scale
    indexes) of ``image`` cropped to a multiple of 64."""
    h, w = (image.shape[0] // 64) * 64, (image.shape[1] // 64) * 64
    x = torch.from_numpy(np.ascontiguousarray(image[:h, :w])).permute(2, 0, 1)[None] / 255.0
    gain, _ = net.gains(torch.tensor([float(level)]))
    y = net.g_a(x.float()) * gain
    return y, net.h_s(torch.round(net.h_a(y)))


def permuted(y: torch.Tensor, hyper: torch.Tensor, order: torch.Tensor):
    m = y.shape[1]
    return y[:, order], torch.cat([hyper[:, :m][:, order], hyper[:, m:][:, order]], 1)


def latent_bits(context: GroupedContext | None, y: torch.Tensor, hyper: torch.Tensor, noise: bool):
    """Bits of latent y under the hyper parameters refined by ``context`` (None: hyperprior
    alone). noise=True: the training proxy (y + U(-0.5, 0.5)); False: rounded residuals."""
    m = y.shape[1]
    if context is None:
        means, index = hyper[:, :m] / MEAN_STEPS, hyper[:, m:]
    else:
        _, means, index = context(y, hyper, lambda v, mu: torch.round(v - mu) + mu)
    if noise:
        values = y + torch.empty_like(y).uniform_(-0.5, 0.5)
    else:
        values = torch.round(y - means) + means
    return -torch.log2(gaussian_likelihood(values, means, scale_from_index(index))).sum()


def train_context(sizes, order, cache, steps: int, seed: int) -> GroupedContext:
    context = GroupedContext(sizes)
    optimizer = torch.optim.Adam(context.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    for _ in range(steps):
        ys, hypers = [], []
        for _ in range(BATCH):
            y, hyper = cache[rng.randrange(len(cache))]
            top, left = rng.randrange(y.shape[2] - CROP + 1), rng.randrange(y.shape[3] - CROP + 1)
            ys.append(y[..., top : top + CROP, left : left + CROP])
            hypers.append(hyper[..., top : top + CROP, left : left + CROP])
        y, hyper = permuted(torch.cat(ys), torch.cat(hypers), order)
        loss = latent_bits(context, y, hyper, noise=True) / y.numel()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return context.eval()


@torch.no_grad()
def held_out_bpp(context, order, held_out) -> list[float]:
    """Latent bits per pixel per level (rounded residuals) on the held-out photos."""
    rows = []
    for level in LEVELS:
        bits = pixels = 0.0
        for y, hyper in held_out[level]:
            y, hyper = permuted(y, hyper, order)
            bits += float(latent_bits(context, y, hyper, noise=False))
            pixels += y.shape[2] * y.shape[3] * 256
        rows.append(bits / pixels)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--images", type=int, default=30, help="training photos to cache")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    state = torch.load(args.run / "latest.pt", map_location="cpu", weights_only=True)
    model = averaged_state(state)
    trained_sizes = tuple(state["config"]["groups"])
    net = ImageNetwork(NetworkConfig.from_run(state["config"]))
    net.load_state_dict(model)
    net.eval()
    images = load_images(args.data)
    train, held = images[:-3], images[-3:]
    rng = random.Random(0)
    chosen = rng.sample(train, min(args.images, len(train)))
    cache = [latents(net, image, LEVELS[i % len(LEVELS)]) for i, image in enumerate(chosen)]
    held_out = {level: [latents(net, image, level) for image in held] for level in LEVELS}

    saliency = channel_saliency(model)
    iscs = torch.argsort(saliency, descending=True)
    iscs_sizes = group_sizes(saliency[iscs])
    m = iscs.numel()
    identity = torch.arange(m)
    shuffled = torch.randperm(m, generator=torch.Generator().manual_seed(1))
    variants = [
        ("random order (seed 1), ELIC sizes", shuffled, ELIC_SIZES),
        ("random order (seed 1), ISCS sizes", shuffled, iscs_sizes),
        ("ISCS order, ISCS sizes", iscs, iscs_sizes),
        ("the run's order (ISCS of phase 2), its sizes", identity, trained_sizes),
    ]
    rank = torch.empty_like(iscs)
    rank[iscs] = identity
    spearman = float(torch.corrcoef(torch.stack([rank.double(), identity.double()]))[0, 1])
    print(f"step {state['step']} (weight average); ISCS sizes now {iscs_sizes}; rank "
          f"correlation of the ISCS order with the run's order {spearman:.3f}; cached "
          f"{len(cache)} training photos; {args.steps} steps per variant\n")  # fmt: skip
    header = " | ".join(f"level {level} bpp" for level in LEVELS)
    print(f"| variant | {header} | vs first row | train s |")
    print("|---|" + "---:|" * (len(LEVELS) + 2))
    reference: list[float] = []

    def row(name: str, bpps: list[float], seconds: float | None) -> None:
        reference.extend([] if reference else bpps)
        saving = np.mean([b / r - 1 for b, r in zip(bpps, reference, strict=True)])
        cells = " | ".join(f"{b:.4f}" for b in bpps)
        print(f"| {name} | {cells} | {100 * saving:+.2f}% | "
              f"{'-' if seconds is None else f'{seconds:.0f}'} |", flush=True)  # fmt: skip

    for name, order, sizes in variants:
        start = time.time()
        context = train_context(sizes, order, cache, args.steps, seed=0)
        row(f"{name} {tuple(sizes)}", held_out_bpp(context, order, held_out), time.time() - start)
    joint = held_out_bpp(net.context, identity, held_out)
    row(f"the run's own context {trained_sizes} ({state['step']} steps, joint)", joint, None)
    row("h_s parameters without context (trained only as context input)",
        held_out_bpp(None, identity, held_out), None)  # fmt: skip


if __name__ == "__main__":
    main()

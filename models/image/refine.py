"""Encoder-side latent refinement for the image codec (``--refine N``).

The analysis transform g_a is amortised: one network guesses every image's latent, and a
model trained for a few hours on a CPU guesses far from the best one. Refinement runs N steps
of Adam on the latent itself (after the gain), minimising the training objective of the
rate level, rate_bpp + lambda * 255^2 * MSE, through the *float* copies of every part of
the model (hyper-analysis, hyper-synthesis, grouped context networks, factorized prior,
synthesis). Rounding is straight-through, as in training. The result is coded by the
normal integer pipeline, so files are ordinary image-v1 files and the decoder is unchanged.
The float objective can misjudge the integer path (the coder rounds around the *integer*
means), so the codec keeps the refined latent only where its file scores better
(models.image.codec): refinement never makes a file worse on the rate level's objective.

Cost: each step is a forward + backward pass through the whole model (about 1.1 s per
megapixel on this 2-core CPU). The refined latent depends on float arithmetic (thread
count, CPU), so two encoders may write different, equally valid files.
"""

from __future__ import annotations

import torch

from models.image.network import (
    LAMBDAS,
    ImageNetwork,
    round_ste,
)

#: Adam's first step size on the gained latent (latent units) is min(REFINE_LR,
#: REFINE_BUDGET / steps), decaying linearly to 0: longer runs take smaller steps. With the
#: 49,677-step weights (entropy model polished) refinement barely pays: on the bundled photo
#: samples/seeding_384x256.png, 10 steps change the objective at rate levels 0 / 3 / 5 / 8 by
#: +0.75 / +0.08 / -0.11 / -0.50 % with 0.002 (4 steps at level 3: -0.25 %), by
#: +2.24 / +0.25 / -0.24 / -1.05 % with the 0.01 chosen for the 38,327-step weights (which
#: gave -14.7 / -5.3 / -3.6 / -1.2 % with those). The codec keeps the plain latent where a
#: refined file scores worse (docs/image.md has the measurements).
REFINE_LR = 0.002
REFINE_BUDGET = 0.1


def rd_objective(net: ImageNetwork, y: torch.Tensor, x: torch.Tensor, rate: float) -> torch.Tensor:
    """Rate (bits per pixel of the latents rounded around their means, straight-through) +
    lambda * 255^2 * MSE of gained latent ``y`` (1,M,H/16,W/16) for image ``x`` (1,3,H,W) in
    [0,1] at rate level ``rate``."""
    _, inverse_gain = net.gains(torch.tensor([rate]))
    y_hat, y_bits, z_bits = net.rounded_latents(y, round_ste)
    bits = y_bits + z_bits
    mse = (net.g_s(y_hat * inverse_gain) - x).pow(2).mean()
    lam = LAMBDAS[min(int(round(rate)), len(LAMBDAS) - 1)]
    return bits / (x.shape[2] * x.shape[3]) + lam * 255**2 * mse


def refine_latent(
    net: ImageNetwork,
    x: torch.Tensor,
    y: torch.Tensor,
    rate: float,
    steps: int,
    progress: bool = False,
) -> torch.Tensor:
    """``steps`` Adam steps (step size decaying linearly to 0, see REFINE_LR) on the gained
    latent ``y`` (1,M,h,w) of ``x`` (1,3,16h,16w) -> the latent with the lowest objective
    among those visited, ``y`` included (same shape, no gradient). Straight-through rounding
    makes each step's objective the exact float objective of its latent. ``progress``: a bar
    of steps with the objective."""
    y = y.detach().clone().requires_grad_(True)
    first = min(REFINE_LR, REFINE_BUDGET / max(steps, 1))
    optimizer = torch.optim.Adam([y], lr=first)
    best, best_objective = y.detach().clone(), float("inf")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="refining the latent", unit="step", leave=False)
    for step in range(steps):
        optimizer.param_groups[0]["lr"] = first * (1 - step / steps)
        loss = rd_objective(net, y, x, rate)
        if loss.item() < best_objective:
            best, best_objective = y.detach().clone(), loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if bar is not None:
            bar.set_postfix(objective=f"{loss.item():.4f}")
            bar.update()
    if bar is not None:
        bar.close()
    with torch.no_grad():
        if steps and rd_objective(net, y, x, rate).item() < best_objective:
            best = y.detach().clone()
    return best

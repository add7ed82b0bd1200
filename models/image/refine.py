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

#: Adam's first step size on the gained latent (latent units), decaying linearly to 0. With the
#: weights image-v1@440614de5af8 (103,026 steps) the analysis transform leaves most room at
#: the top qualities: on 256x384 centres of the three held-out training photos, 100 steps at
#: 0.02 changed the file objective by -10.2 / -7.1 % at quality 9 (+0.79 / +0.57 dB), 60
#: steps by -3.9 / -2.5 % at quality 8 and -1.2 / -0.3 % at quality 7, and by -0.3 / 0.0 /
#: -1.2 % at quality 6; 0.002 (the step of earlier weights) gave -0.3 % at quality 6 in 20
#: steps, 0.01 -7.9 / -5.1 % at quality 9 in 50 (docs/image.md).
REFINE_LR = 0.02


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
    optimizer = torch.optim.Adam([y], lr=REFINE_LR)
    best, best_objective = y.detach().clone(), float("inf")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="refining the latent", unit="step", leave=False)
    for step in range(steps):
        optimizer.param_groups[0]["lr"] = REFINE_LR * (1 - step / steps)
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

"""Grouped checkerboard + channel context (ELIC-style), float training view.

The latent channels are split into uneven groups (from the ISCS ranking, salient channels
first). Group k is coded in two checkerboard passes: anchors (even x+y), then non-anchors.
Its entropy parameters come from one small network per group whose input is, in *integer
units* (so the integer export needs no rescaling)::

    hyper_k      (2C_k)  means of group k in 1/16 steps and scale indexes, from h_s
    y_hat[<k]    (a_k)   previously decoded groups, latent * 16
    anchors_k    (C_k)   decoded anchors of group k (zero at non-anchor positions and in
                         the anchor pass), latent * 16

and whose output is a correction added to ``hyper_k``: the network's last layer starts at
zero, so a model converted from the hyperprior-only one starts out identical to it.
"""

from __future__ import annotations

import torch
from torch import nn

from models.image.network import MEAN_STEPS, SCALE_LEVELS

HIDDEN = 64
LATENT_BOUND = 4096  # |latent * 16| fed to the context networks


def checkerboard(height: int, width: int, anchor: bool) -> torch.Tensor:
    """(1,1,H,W) float mask: 1 on anchor positions ((row+col) even) or on the others."""
    rows = torch.arange(height)[:, None]
    cols = torch.arange(width)[None, :]
    mask = ((rows + cols) % 2 == 0) == anchor
    return mask.float()[None, None]


def group_bounds(sizes: tuple[int, ...]) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for size in sizes:
        bounds.append((start, start + size))
        start += size
    return bounds


def context_network(previous: int, size: int) -> nn.Sequential:
    """conv3x3 -> ReLU -> conv3x3 -> ReLU -> conv1x1, last layer zero-initialised."""
    inputs = 2 * size + previous + size
    net = nn.Sequential(
        nn.Conv2d(inputs, HIDDEN, 3, padding=1), nn.ReLU(),
        nn.Conv2d(HIDDEN, HIDDEN, 3, padding=1), nn.ReLU(),
        nn.Conv2d(HIDDEN, 2 * size, 1),
    )  # fmt: skip
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


class GroupedContext(nn.Module):
    """Per-group context networks; ``sizes`` are the channel group sizes (sum = M)."""

    def __init__(self, sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.sizes = tuple(sizes)
        self.bounds = group_bounds(self.sizes)
        self.nets = nn.ModuleList(context_network(a, b - a) for a, b in self.bounds)

    def parameters_for(
        self, k: int, hyper_k: torch.Tensor, previous: torch.Tensor, anchors: torch.Tensor
    ) -> torch.Tensor:
        """Means (1/16 steps) and scale indexes of group k: (B, 2C_k, h, w), float."""
        scaled = torch.cat([previous, anchors], dim=1) * MEAN_STEPS
        inputs = torch.cat([hyper_k, scaled.clamp(-LATENT_BOUND, LATENT_BOUND)], dim=1)
        return hyper_k + self.nets[k](inputs)

    def forward(
        self, y: torch.Tensor, hyper: torch.Tensor, quantize
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass over all groups and both checkerboard passes.

        y: (B,M,h,w) gained latents; hyper: (B,2M,h,w) = (means in 1/16 steps, scale
        indexes) from h_s; quantize(y, means) -> y_hat (rounding with straight-through).
        Returns y_hat, means (latent units) and scale indexes, each (B,M,h,w).
        """
        _, m, h, w = y.shape
        means_16, scale_index = hyper[:, :m], hyper[:, m:]
        anchor_mask = checkerboard(h, w, True).to(y)
        y_hat_groups, mean_groups, index_groups = [], [], []
        for k, (a, b) in enumerate(self.bounds):
            hyper_k = torch.cat([means_16[:, a:b], scale_index[:, a:b]], dim=1)
            previous = torch.cat(y_hat_groups, dim=1) if y_hat_groups else y[:, :0]
            zeros = torch.zeros_like(y[:, a:b])
            first = self.parameters_for(k, hyper_k, previous, zeros)
            means_a, index_a = first[:, : b - a] / MEAN_STEPS, first[:, b - a :]
            y_hat_a = quantize(y[:, a:b], means_a) * anchor_mask
            second = self.parameters_for(k, hyper_k, previous, y_hat_a)
            means_n, index_n = second[:, : b - a] / MEAN_STEPS, second[:, b - a :]
            means = means_a * anchor_mask + means_n * (1 - anchor_mask)
            index = index_a * anchor_mask + index_n * (1 - anchor_mask)
            y_hat_groups.append(quantize(y[:, a:b], means))
            mean_groups.append(means)
            index_groups.append(index.clamp(0, SCALE_LEVELS - 1))
        return torch.cat(y_hat_groups, 1), torch.cat(mean_groups, 1), torch.cat(index_groups, 1)

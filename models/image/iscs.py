"""ISCS-style parameter-guided channel ordering and grouping.

After "Parameter-Guided Channel Ordering and Grouping for Learned Image Compression": the
importance of a latent channel is read off the trained parameters, not measured on data.
For channel c (gained latent domain):

- magnitude  = std of the last analysis filter of c  x  mean gain of c      (how big y_c is)
- impact     = norm of the first synthesis filter of c x mean inverse gain  (what a unit
               of y_c does to the pixels)
- saliency   = magnitude x impact, plus |analysis bias of c| x impact as a tie-breaker

Channels are sorted by saliency (largest first) and cut into groups at fixed fractions of
the cumulative saliency, which yields ELIC-like uneven groups (small first groups holding the
salient channels) without hand-picked sizes. Pairwise correlations of the synthesis filters
are reported (``redundancy``) to show that the salient channels are not copies of each other.
``permute_state`` applies an order to a state dict; the network's function is unchanged.
"""

from __future__ import annotations

import torch

CUMULATIVE_CUTS = (0.12, 0.25, 0.45, 0.7)
GROUP_MULTIPLE = 8


def last_analysis_layer(state: dict[str, torch.Tensor]) -> str:
    """Key prefix of g_a's last convolution (the one that outputs the latent), e.g. "g_a.6"
    (its position depends on the transform blocks)."""
    last = max(int(key.split(".")[1]) for key in state if key.startswith("g_a."))
    return f"g_a.{last}"


def channel_saliency(state: dict[str, torch.Tensor]) -> torch.Tensor:
    """(M,) saliency of each latent channel from a hyperprior-phase state dict."""
    last = last_analysis_layer(state)
    analysis = state[f"{last}.weight"].double()  # (M, N, 5, 5)
    synthesis = state["g_s.0.weight"].double()  # (M, N, 5, 5), ConvTranspose layout
    gain = state["gain"].double().abs().mean(0)
    inverse = state["inverse_gain"].double().abs().mean(0)
    magnitude = analysis.flatten(1).std(1) * gain
    impact = synthesis.flatten(1).norm(dim=1) * inverse
    bias = state[f"{last}.bias"].double().abs() * gain
    return (magnitude + 0.1 * bias) * impact


def redundancy(state: dict[str, torch.Tensor], order: torch.Tensor, top: int = 16) -> float:
    """Mean |correlation| between the synthesis filters of the ``top`` first channels."""
    filters = state["g_s.0.weight"].double().flatten(1)[order[:top]]
    corr = torch.corrcoef(filters)
    off_diagonal = corr[~torch.eye(top, dtype=torch.bool)]
    return float(off_diagonal.abs().mean())


def group_sizes(saliency_sorted: torch.Tensor, cuts=CUMULATIVE_CUTS) -> tuple[int, ...]:
    """Group sizes (multiples of 8, each >= 8) cutting sorted saliencies at ``cuts``."""
    m = saliency_sorted.numel()
    cumulative = torch.cumsum(saliency_sorted, 0) / saliency_sorted.sum()
    bounds, previous = [], 0
    for cut in cuts:
        index = int(torch.searchsorted(cumulative, torch.tensor(cut, dtype=cumulative.dtype)))
        bound = max(previous + GROUP_MULTIPLE, -(-(index + 1) // GROUP_MULTIPLE) * GROUP_MULTIPLE)
        if bound <= m - GROUP_MULTIPLE:
            bounds.append(bound)
            previous = bound
    edges = [0, *bounds, m]
    return tuple(b - a for a, b in zip(edges[:-1], edges[1:], strict=True))


def permute_state(
    state: dict[str, torch.Tensor], order: torch.Tensor, mean_scale: float = 1.0
) -> dict[str, torch.Tensor]:
    """Reorder latent channels everywhere they appear; optionally rescale h_s means.

    ``mean_scale`` multiplies the mean outputs of h_s (16 converts latent units to the
    1/16 steps the grouped context works in).
    """
    m = order.numel()
    out = dict(state)
    last = last_analysis_layer(state)
    out[f"{last}.weight"] = state[f"{last}.weight"][order]
    out[f"{last}.bias"] = state[f"{last}.bias"][order]
    out["gain"] = state["gain"][:, order]
    out["inverse_gain"] = state["inverse_gain"][:, order]
    out["h_a.0.weight"] = state["h_a.0.weight"][:, order]
    out["g_s.0.weight"] = state["g_s.0.weight"][order]
    rows = torch.cat([order, order + m])
    scale = torch.cat([torch.full((m,), mean_scale), torch.ones(m)]).to(state["h_s.4.weight"])
    out["h_s.4.weight"] = state["h_s.4.weight"][rows] * scale.view(-1, 1, 1, 1)
    out["h_s.4.bias"] = state["h_s.4.bias"][rows] * scale
    return out

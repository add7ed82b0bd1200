"""ISCS channel ordering keeps the network's function; the grouped context starts as the
hyperprior it was converted from."""

from __future__ import annotations

import torch

from models.image.iscs import channel_saliency, group_sizes, permute_state
from models.image.network import MEAN_STEPS, ImageNetwork, NetworkConfig

CONFIG = NetworkConfig(n=32, m=64, z=32)


def trained_like_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    net = ImageNetwork(CONFIG)
    with torch.no_grad():  # give channels unequal importance, as training does
        net.g_s[0].weight.mul_(torch.linspace(0.1, 3.0, CONFIG.m).view(-1, 1, 1, 1))
        net.gain.mul_(torch.rand(CONFIG.levels, CONFIG.m) + 0.5)
    return net.state_dict()


def forward(net: ImageNetwork, x: torch.Tensor) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return net.eval()(x, torch.tensor([2.5]))


def test_saliency_ranking_and_groups():
    state = trained_like_state()
    saliency = channel_saliency(state)
    order = torch.argsort(saliency, descending=True)
    assert order[0] > CONFIG.m // 2  # the channels we made important come first
    sizes = group_sizes(saliency[order])
    assert sum(sizes) == CONFIG.m and all(s >= 8 and s % 8 == 0 for s in sizes)
    assert len(sizes) >= 3


def test_permutation_keeps_reconstruction_and_context_starts_at_the_hyperprior():
    state = trained_like_state()
    order = torch.argsort(channel_saliency(state), descending=True)
    x = torch.rand(1, 3, 64, 64)
    base = ImageNetwork(CONFIG)
    base.load_state_dict(state)
    permuted = ImageNetwork(CONFIG)
    permuted.load_state_dict(permute_state(state, order))
    a, b = forward(base, x), forward(permuted, x)
    assert torch.allclose(a["x_hat"], b["x_hat"], atol=1e-5)
    sizes = group_sizes(channel_saliency(state)[order])
    grouped = ImageNetwork(NetworkConfig(n=32, m=64, z=32, groups=sizes))
    missing = grouped.load_state_dict(permute_state(state, order, MEAN_STEPS), strict=False)
    assert all(k.startswith("context.") for k in missing.missing_keys)
    c = forward(grouped, x)
    assert torch.allclose(b["x_hat"], c["x_hat"], atol=1e-5)
    assert torch.allclose(b["y"], c["y"], rtol=1e-4, atol=1e-7)

"""Residual bottleneck blocks in the transforms: a trained network grows into one with
blocks without changing what it computes, the blocks then take part, and ISCS still finds
the latent-producing layer."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from models.image.iscs import channel_saliency, permute_state
from models.image.network import BottleneckBlock, ImageNetwork, NetworkConfig, grown_state
from models.image.subpixel import inference_synthesis

SMALL = NetworkConfig(n=32, m=64, z=32, groups=(16, 48))
GROWN = NetworkConfig(n=32, m=64, z=32, groups=(16, 48), blocks=2, half_blocks=1)
RATE = torch.tensor([3.5])


def trained_like(config: NetworkConfig) -> ImageNetwork:
    torch.manual_seed(0)
    net = ImageNetwork(config)
    with torch.no_grad():  # nonzero everywhere, as after training (new blocks start at zero)
        for module in net.modules():
            if isinstance(module, BottleneckBlock):
                module.expand.weight.normal_(0, 0.05)
    return net.eval()


def outputs(net: ImageNetwork, x: torch.Tensor) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    with torch.no_grad():
        return net(x, RATE)


def test_growing_keeps_the_function_and_the_blocks_then_take_part():
    small = trained_like(SMALL)
    grown = ImageNetwork(GROWN).eval()
    result = grown.load_state_dict(grown_state(small.state_dict(), SMALL, GROWN), strict=False)
    assert not result.unexpected_keys
    assert result.missing_keys and all(
        ".reduce." in k or ".mix." in k or ".expand." in k for k in result.missing_keys
    )
    per_transform = 2 * GROWN.blocks + GROWN.half_blocks
    assert sum(isinstance(m, BottleneckBlock) for m in grown.modules()) == 2 * per_transform
    x = torch.rand(1, 3, 64, 64)
    before, after = outputs(small, x), outputs(grown, x)
    for key in ("x_hat", "y", "z"):
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=0)
    with torch.no_grad():
        grown.g_s[2].expand.weight.normal_(0, 0.05)
    with_quarter_block = outputs(grown, x)["x_hat"]
    assert not torch.allclose(with_quarter_block, before["x_hat"])
    half_resolution_block = grown.g_s[-2]  # between the last two transposed convolutions
    assert isinstance(half_resolution_block, BottleneckBlock)
    with torch.no_grad():
        half_resolution_block.expand.weight.normal_(0, 0.05)
    assert not torch.allclose(outputs(grown, x)["x_hat"], with_quarter_block)


def test_growing_keeps_the_blocks_a_network_already_has():
    old_config = NetworkConfig(n=32, m=64, z=32, groups=(16, 48), blocks=1)
    new_config = NetworkConfig(n=32, m=64, z=32, groups=(16, 48), blocks=2, half_blocks=2)
    old = trained_like(old_config)
    new = ImageNetwork(new_config).eval()
    result = new.load_state_dict(grown_state(old.state_dict(), old_config, new_config), False)
    assert not result.unexpected_keys
    added_blocks = 2 * (2 * 1 + 2)  # per transform: one more in 2 stages, two at 1/2 res
    assert len(result.missing_keys) == added_blocks * 6  # 3 convolutions, weight and bias
    x = torch.rand(1, 3, 64, 64)
    before, after = outputs(old, x), outputs(new, x)
    for key in ("x_hat", "y", "z"):
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=0)


def test_growing_the_analysis_transform_alone_leaves_the_decoder_as_it_was():
    """g_a-only blocks (encoder capacity): g_s keeps its layers and weights, so files of the
    grown network decode with the same synthesis; the network computes what it did."""
    grown_config = replace(GROWN, g_a_extra_blocks=1, g_a_extra_half_blocks=2)
    old = trained_like(GROWN)
    new = ImageNetwork(grown_config).eval()
    result = new.load_state_dict(grown_state(old.state_dict(), GROWN, grown_config), False)
    assert not result.unexpected_keys
    assert {k.split(".")[0] for k in result.missing_keys} == {"g_a"}
    assert len(result.missing_keys) == (2 * 1 + 2) * 6  # 3 convolutions, weight and bias
    assert len(new.g_s) == len(old.g_s)
    assert len(new.g_a) == len(old.g_a) + 2 * 1 + 2
    for key, value in old.g_s.state_dict().items():
        assert torch.equal(new.g_s.state_dict()[key], value)
    x = torch.rand(1, 3, 64, 64)
    before, after = outputs(old, x), outputs(new, x)
    for key in ("x_hat", "y", "z"):
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=0)


def test_transforms_do_not_shrink():
    with pytest.raises(ValueError, match="cannot shrink"):
        grown_state(ImageNetwork(GROWN).state_dict(), GROWN, SMALL)
    with_extra = replace(GROWN, g_a_extra_half_blocks=1)
    with pytest.raises(ValueError, match="cannot shrink"):
        grown_state(ImageNetwork(with_extra).state_dict(), with_extra, GROWN)


def test_iscs_permutation_and_inference_synthesis_with_blocks():
    net = trained_like(GROWN)
    state = net.state_dict()
    order = torch.argsort(channel_saliency(state), descending=True)
    permuted = ImageNetwork(GROWN).eval()
    permuted.load_state_dict(permute_state(state, order))
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        y = net.g_a(x)
        torch.testing.assert_close(permuted.g_a(x), y[:, order], rtol=0, atol=1e-5)
        expected = net.g_s(y)
        torch.testing.assert_close(permuted.g_s(y[:, order]), expected, rtol=0, atol=1e-5)
        torch.testing.assert_close(inference_synthesis(net.g_s)(y), expected, rtol=0, atol=1e-5)

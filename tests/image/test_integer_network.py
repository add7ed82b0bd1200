"""Integer networks: exact integer arithmetic, independent of summation order and threads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.image.integer import IntegerNetwork, export_integer_network


def small_network() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.ConvTranspose2d(8, 16, 5, 2, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(16, 12, 5, 2, 2, 1), nn.ReLU(),
        nn.Conv2d(12, 6, 3, 1, 1),
    )  # fmt: skip


def export(net: nn.Sequential) -> IntegerNetwork:
    calibration = torch.round(torch.randn(4, 8, 6, 6) * 5)
    return export_integer_network(
        net, calibration, 4096, torch.full((6,), 0.001), torch.full((6,), -50000.0),
        torch.full((6,), 50000.0),
    )  # fmt: skip


def int64_reference(network: IntegerNetwork, x: torch.Tensor) -> torch.Tensor:
    """The same layers computed with int64 tensors only (zero-stuffing for transposed convs)."""
    x = x.long().clamp(-network.input_bound, network.input_bound)
    for layer in network.layers:
        w = layer.weight.long()
        if layer.transposed:
            s, p = layer.stride, layer.padding
            b, c, h, wd = x.shape
            up = torch.zeros(b, c, (h - 1) * s + 1, (wd - 1) * s + 1, dtype=torch.long)
            up[:, :, ::s, ::s] = x
            k = w.shape[-1]
            up = F.pad(up, (k - 1 - p, k - 1 - p + s - 1, k - 1 - p, k - 1 - p + s - 1))
            w = w.flip(-1, -2).transpose(0, 1)
            x, stride, pad = up, 1, 0
        else:
            stride, pad = layer.stride, layer.padding
            x = F.pad(x, (pad, pad, pad, pad))
        cols = F.unfold(x.double(), w.shape[-1], stride=stride).long()  # exact small ints
        acc = torch.einsum("ok,bkl->bol", w.reshape(w.shape[0], -1), cols)
        oh = (x.shape[2] - w.shape[-1]) // stride + 1
        acc = acc.reshape(x.shape[0], w.shape[0], oh, -1) + layer.bias.long().view(1, -1, 1, 1)
        m = layer.multiplier.long().view(1, -1, 1, 1)
        out = torch.div(acc * m + (1 << (layer.shift - 1)), 1 << layer.shift, rounding_mode="floor")
        x = torch.maximum(torch.minimum(out, layer.high.long().view(1, -1, 1, 1)),
                          layer.low.long().view(1, -1, 1, 1))  # fmt: skip
    return x


def test_integer_network_is_exact_and_thread_independent():
    network = export(small_network())
    x = torch.round(torch.randn(2, 8, 5, 7) * 40)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = network(x)
        torch.set_num_threads(2)
        two = network(x)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)
    assert torch.equal(one, torch.round(one))
    assert torch.equal(one.long(), int64_reference(network, x))


def test_integer_network_tracks_the_float_network():
    net = small_network()
    network = export(net)
    x = torch.round(torch.randn(2, 8, 5, 7) * 5)
    with torch.no_grad():
        reference = net(x) / 0.001
    error = (network(x) - reference).abs().mean() / reference.abs().mean()
    assert error < 0.05


def test_integer_network_roundtrips_through_tensors():
    network = export(small_network())
    restored = IntegerNetwork.from_tensors(network.tensors("h"), "h")
    x = torch.round(torch.randn(1, 8, 4, 4) * 30)
    assert torch.equal(network(x), restored(x))

"""The decoder's matrix-product convolutions compute torch's convolutions, with bits that do not
depend on the thread count."""

import pytest
import torch
import torch.nn.functional as F

from models.image.gemm_conv import ROW_TILE, GemmBottleneck, GemmInverseGDN, conv1x1, conv3x3
from models.image.network import BottleneckBlock

# Heights below, at and across a row tile, widths 1 and odd, batch 2.
SHAPES = [(1, 5, 1, 1), (1, 8, ROW_TILE, 3), (2, 6, 2 * ROW_TILE + 5, 11), (1, 3, 7, 1)]


@pytest.mark.parametrize("shape", SHAPES)
def test_conv3x3_matches_conv2d(shape):
    torch.manual_seed(sum(shape))
    x = torch.randn(shape, dtype=torch.float64)
    weight, bias = torch.randn(9, shape[1], 3, 3, dtype=torch.float64), torch.randn(9).double()
    got = conv3x3(x, weight, bias)
    assert got.shape == (shape[0], 9, *shape[2:])
    torch.testing.assert_close(got, F.conv2d(x, weight, bias, padding=1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_conv1x1_with_and_without_residual(shape):
    torch.manual_seed(sum(shape))
    x = torch.randn(shape, dtype=torch.float64)
    weight, bias = torch.randn(4, shape[1], 1, 1, dtype=torch.float64), torch.randn(4).double()
    residual = torch.randn(shape[0], 4, *shape[2:], dtype=torch.float64)
    expected = F.conv2d(x, weight, bias)
    torch.testing.assert_close(conv1x1(x, weight, bias), expected, rtol=0, atol=1e-12)
    got = conv1x1(x, weight, bias, residual=residual)
    torch.testing.assert_close(got, residual + expected, rtol=0, atol=1e-12)


def test_gemm_bottleneck_is_the_block():
    torch.manual_seed(0)
    block = BottleneckBlock(16)
    torch.nn.init.normal_(block.expand.weight, std=0.1)  # a trained block is not the identity
    x = torch.randn(2, 16, 21, 13)
    with torch.no_grad():
        torch.testing.assert_close(GemmBottleneck(block)(x), block(x), rtol=0, atol=1e-5)


def test_conv3x3_gives_the_same_bits_for_any_thread_count():
    torch.manual_seed(1)
    x, weight, bias = torch.randn(1, 48, 40, 67), torch.randn(48, 48, 3, 3), torch.randn(48)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = conv3x3(x, weight, bias)
        torch.set_num_threads(2)
        two = conv3x3(x, weight, bias)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)


def test_gemm_inverse_gdn_is_the_layer():
    from models.image.compressai_parts import compressai_module

    torch.manual_seed(2)
    gdn = compressai_module("layers").GDN(8, inverse=True)
    with torch.no_grad():
        gdn.gamma.add_(0.05 * torch.rand(8, 8))  # off-diagonal terms, as after training
        x = torch.randn(1, 8, 19, 5)
        torch.testing.assert_close(GemmInverseGDN(gdn)(x), gdn(x), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="inverse GDN"):
        GemmInverseGDN(compressai_module("layers").GDN(8))

"""The sub-pixel form of the synthesis transposed convolutions computes the same function."""

import pytest
import torch

from models.image.subpixel import SubpixelConv, inference_synthesis


@pytest.mark.parametrize("shape", [(1, 6, 5, 7), (2, 3, 1, 1), (1, 4, 8, 3)])
def test_subpixel_conv_matches_transposed_conv(shape):
    torch.manual_seed(sum(shape))
    batch, cin, h, w = shape
    deconv = torch.nn.ConvTranspose2d(cin, 17, 5, stride=2, padding=2, output_padding=1)
    x = torch.randn(batch, cin, h, w)
    with torch.no_grad():
        expected, got = deconv(x), SubpixelConv(deconv)(x)
    assert got.shape == (batch, 17, 2 * h, 2 * w)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_other_transposed_convs_are_refused():
    with pytest.raises(ValueError, match="no sub-pixel form"):
        SubpixelConv(torch.nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1))


def test_narrow_layers_keep_the_transposed_form():
    wide = torch.nn.ConvTranspose2d(8, 16, 5, stride=2, padding=2, output_padding=1)
    narrow = torch.nn.ConvTranspose2d(16, 3, 5, stride=2, padding=2, output_padding=1)
    converted = inference_synthesis(torch.nn.Sequential(wide, torch.nn.ReLU(), narrow))
    assert isinstance(converted[0], SubpixelConv)
    assert converted[2] is narrow

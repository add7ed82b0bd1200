"""Sub-pixel form of the synthesis transform's transposed convolutions (inference only).

A ``ConvTranspose2d`` with kernel 5, stride 2, padding 2 and output padding 1 maps input
pixel i to outputs 2i - 2 .. 2i + 2. Read from the output side, output 2i + r (r = 0, 1)
takes inputs i - 1, i, i + 1 through kernel taps (4, 2, 0) for r = 0 and (-, 3, 1) for
r = 1 in each axis. So the layer equals one 3x3 convolution (padding 1) with 4 x out
channels, one per phase (r_y, r_x), followed by a 2x pixel shuffle: the same function with
the same weights, computed as a plain convolution. On this CPU with the native (non-oneDNN)
kernels, which the decoder uses for thread-count determinism, that is 1.6-1.9x faster for the
wide layers; the last layer (3 output channels) stays a transposed convolution, which is
faster there. Which form a layer uses depends on its shape only, never on timing. The 3x3
convolution itself runs as tap-wise matrix products (:func:`models.image.gemm_conv.conv3x3`).
"""

from __future__ import annotations

import torch
from torch import nn

from models.image.gemm_conv import GemmBottleneck, GemmInverseGDN, conv3x3
from models.image.network import BottleneckBlock

#: Kernel tap used by output phase r for input offset d = -1, 0, +1 (5 = no tap).
_TAPS = torch.tensor([[4, 2, 0], [5, 3, 1]])
#: Layers with fewer output channels keep the transposed form.
MIN_SUBPIXEL_CHANNELS = 16


class SubpixelConv(nn.Module):
    """The sub-pixel equivalent of a ConvTranspose2d(k=5, stride=2, padding=2, output_padding=1).

    (B, Cin, H, W) -> (B, Cout, 2H, 2W).
    """

    def __init__(self, deconv: nn.ConvTranspose2d) -> None:
        super().__init__()
        shape = (deconv.kernel_size, deconv.stride, deconv.padding, deconv.output_padding)
        if shape != ((5, 5), (2, 2), (2, 2), (1, 1)) or deconv.groups != 1:
            raise ValueError(f"no sub-pixel form for a transposed conv with {shape}")
        weight = nn.functional.pad(deconv.weight.detach(), (0, 1, 0, 1))  # (Cin, Cout, 6, 6)
        phases = weight[:, :, _TAPS][..., _TAPS]  # (Cin, Cout, ry, dy, rx, dx)
        cin, cout = weight.shape[:2]
        self.register_buffer(
            "weight", phases.permute(1, 2, 4, 0, 3, 5).reshape(cout * 4, cin, 3, 3).contiguous()
        )
        bias = deconv.bias.detach() if deconv.bias is not None else torch.zeros(cout)
        self.register_buffer("bias", bias.repeat_interleave(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phases = conv3x3(x, self.weight, self.bias)  # (B, 4C, H, W), a strided view
        batch, channels, h, w = phases.shape
        # pixel shuffle: out[c, 2i + ry, 2j + rx] = phases[4c + 2ry + rx, i, j], one copy
        grid = phases.view(batch, channels // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
        return grid.reshape(batch, channels // 4, 2 * h, 2 * w)


def has_subpixel_form(layer: nn.Module) -> bool:
    """Whether the decoder runs ``layer`` as a :class:`SubpixelConv` (a wide transposed conv)."""
    return isinstance(layer, nn.ConvTranspose2d) and layer.out_channels >= MIN_SUBPIXEL_CHANNELS


def _inference_layer(layer: nn.Module) -> nn.Module:
    if has_subpixel_form(layer):
        return SubpixelConv(layer)
    if isinstance(layer, BottleneckBlock):
        return GemmBottleneck(layer)
    if getattr(layer, "inverse", False):  # CompressAI's GDN(inverse=True)
        return GemmInverseGDN(layer)
    return layer


def inference_synthesis(g_s: nn.Sequential) -> nn.Sequential:
    """The decoder's copy of ``g_s`` (same function): wide stride-2 transposed convolutions in
    sub-pixel form, bottleneck blocks and inverse GDNs as matrix products
    (:mod:`models.image.gemm_conv`)."""
    return nn.Sequential(*(_inference_layer(layer) for layer in g_s))

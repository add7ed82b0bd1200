"""Sub-pixel form of the synthesis transform's transposed convolutions (inference only).

A ``ConvTranspose2d`` with kernel 5, stride 2, padding 2 and output padding 1 maps input
pixel i to outputs 2i - 2 .. 2i + 2. Read from the output side, output 2i + r (r = 0, 1)
takes inputs i - 1, i, i + 1 through kernel taps (4, 2, 0) for r = 0 and (-, 3, 1) for
r = 1 in each axis. So the layer equals one 3x3 convolution (padding 1) with 4 x out
channels, one per phase (r_y, r_x), followed by a 2x pixel shuffle: the same function with
the same weights, computed as a plain convolution. On this CPU with the native (non-oneDNN)
kernels, which the decoder uses for thread-count determinism, that is 1.6-1.9x faster for the
wide layers; the last layer (3 output channels) stays a transposed convolution, which is
faster there. Which form a layer uses depends on its shape only, never on timing.
"""

from __future__ import annotations

import torch
from torch import nn

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
        y = nn.functional.conv2d(x, self.weight, self.bias, padding=1)
        return nn.functional.pixel_shuffle(y, 2)


def subpixel_synthesis(g_s: nn.Sequential) -> nn.Sequential:
    """A copy of ``g_s`` whose wide stride-2 transposed convolutions run in sub-pixel form."""
    return nn.Sequential(
        *(
            SubpixelConv(layer)
            if isinstance(layer, nn.ConvTranspose2d) and layer.out_channels >= MIN_SUBPIXEL_CHANNELS
            else layer
            for layer in g_s
        )
    )

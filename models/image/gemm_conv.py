"""The synthesis transform's stride-1 convolutions as explicit matrix products (inference only;
:func:`conv3x3` also runs the 3x3 layers of the integer networks, on float64 integers).

The decoder runs the synthesis without oneDNN, whose results change with the thread count.
Torch's native fallback computes a 3x3 convolution by copying the input nine times (im2col)
and doing one large matrix product, which is memory-bound here. :func:`conv3x3` instead does
nine matrix products, one per kernel tap, each reading a shifted view of one zero-padded
input, accumulated in a fixed tap order into row tiles small enough to stay in cache
(2.5-3.5x faster for the bottleneck blocks' 3x3 convolutions on this CPU). Every product is
one MKL GEMM, whose result does not depend on the thread count in MKL's strict reproducible
mode (``MKL_CBWR``, set in ``codec/__init__.py``), and the tiling depends on the shape only,
so the convolution gives the same bits for 1 or N threads (tested with the goldens).

The results equal ``F.conv2d``'s up to float rounding (the summation order differs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Output rows computed per tile of :func:`conv3x3` (fixed: results depend on it).
ROW_TILE = 16


def conv1x1(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, residual: torch.Tensor | None = None
) -> torch.Tensor:
    """(B,Cin,H,W) -> (B,Cout,H,W): ``residual + conv(x)`` for a 1x1 kernel.

    weight: (Cout,Cin) or (Cout,Cin,1,1); bias: (Cout,); residual: (B,Cout,H,W) or None.
    """
    batch, cin, h, w = x.shape
    matrix = weight.reshape(weight.shape[0], cin)
    out = torch.empty(batch, matrix.shape[0], h, w, dtype=x.dtype)
    for b in range(batch):
        start = bias[:, None] if residual is None else residual[b].reshape(-1, h * w)
        torch.addmm(start, matrix, x[b].reshape(cin, h * w), out=out[b].view(-1, h * w))
        if residual is not None:
            out[b] += bias[:, None, None]
    return out


def conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """(B,Cin,H,W) -> (B,Cout,H,W): ``F.conv2d(x, weight, bias, padding=1)``.

    weight: (Cout,Cin,3,3); bias: (Cout,). Row-major, the input padded by one pixel on each
    side (and one extra bottom row) is a (Cin, (H+3)(W+2)) matrix in which the input seen by
    tap (dy, dx) for output rows r0..r1 is the contiguous column range starting at
    (r0+dy)(W+2)+dx; the output is computed on the (W+2)-wide grid and the two padding
    columns are cropped at the end.
    """
    batch, cin, h, w = x.shape
    cout, width = weight.shape[0], w + 2
    taps = [weight[:, :, dy, dx].contiguous() for dy in range(3) for dx in range(3)]
    out = torch.empty(batch, cout, h * width, dtype=x.dtype)
    padded = F.pad(x, (1, 1, 1, 2)).reshape(batch, cin, -1)
    for b in range(batch):
        for r0 in range(0, h, ROW_TILE):
            columns = (min(h, r0 + ROW_TILE) - r0) * width
            tile = out[b, :, r0 * width : r0 * width + columns]
            tile.copy_(bias[:, None].expand_as(tile))
            for tap, matrix in enumerate(taps):
                start = (r0 + tap // 3) * width + tap % 3
                tile.addmm_(matrix, padded[b, :, start : start + columns])
    return out.view(batch, cout, h, width)[..., :w]


class GemmInverseGDN(nn.Module):
    """Inference form of CompressAI's ``GDN(inverse=True)`` (same function,
    ``x * sqrt(beta + gamma @ x^2)`` per pixel, in place where it can): (B,C,H,W) -> (B,C,H,W)."""

    def __init__(self, gdn: nn.Module) -> None:
        super().__init__()
        if not gdn.inverse:
            raise ValueError("GemmInverseGDN takes an inverse GDN")
        self.register_buffer("beta", gdn.beta_reparam(gdn.beta).detach().clone())
        self.register_buffer("gamma", gdn.gamma_reparam(gdn.gamma).detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv1x1(x.square(), self.gamma, self.beta).sqrt_().mul_(x)


class GemmBottleneck(nn.Module):
    """Inference form of :class:`models.image.network.BottleneckBlock` (same function):
    (B,n,H,W) -> (B,n,H,W)."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        for name in ("reduce", "mix", "expand"):
            conv = getattr(block, name)
            self.register_buffer(f"{name}_weight", conv.weight.detach().clone())
            self.register_buffer(f"{name}_bias", conv.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inner = conv1x1(x, self.reduce_weight, self.reduce_bias).relu_()
        inner = conv3x3(inner, self.mix_weight, self.mix_bias).relu_()
        return conv1x1(inner, self.expand_weight, self.expand_bias, residual=x)

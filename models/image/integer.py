"""Integer networks for the entropy-parameter path (Balle et al., "Integer networks for data
compression with latent-variable models", 2019).

Everything that decides which probability table a symbol uses runs here, in exact integer
arithmetic, so encoder and decoder agree bit for bit on any machine. A layer computes::

    acc = conv(x, W) + b                       (x, W, b integers; exact in float64 below 2**53)
    y   = clamp(floor((acc * m + 2**(s-1)) / 2**s), low, high)     (per-channel m, low, high)

with int8 weights W (per-output-channel scale folded into the integer multiplier m) and
bounds checked at export time so that |acc * m| < 2**52. Tensors are float64 holding
integers: BLAS/im2col convolutions are exact on them whatever the summation order, and so
are the tap-wise matrix products of ``models.image.gemm_conv.conv3x3`` that the 3x3
stride-1 layers use (2-2.5x faster than ``F.conv2d`` on float64 for grids of ~100x100).

``export_integer_network`` converts a trained float ``nn.Sequential`` (Conv2d /
ConvTranspose2d / ReLU) using activation ranges measured on calibration inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.image.gemm_conv import conv3x3

EXACT_LIMIT = 2.0**52
WEIGHT_MAX = 127
ACTIVATION_MAX = 255


@dataclass
class IntegerLayer:
    """One integer convolution with requantization; tensors are float64 holding integers.

    weight: Conv2d layout (out,in,k,k) or ConvTranspose2d layout (in,out,k,k);
    bias, multiplier, low, high: (out,).
    """

    weight: torch.Tensor
    bias: torch.Tensor
    multiplier: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor
    shift: int
    stride: int
    padding: int
    transposed: bool

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B,C,H,W) float64 integers -> (B,out,H',W') float64 integers."""
        if self.transposed:
            acc = F.conv_transpose2d(
                x, self.weight, self.bias, self.stride, self.padding, self.stride - 1
            )
        elif self.weight.shape[-2:] == (3, 3) and (self.stride, self.padding) == (1, 1):
            acc = conv3x3(x, self.weight, self.bias)  # exact too, 2-2.5x faster on big grids
        else:
            acc = F.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        shape = (1, -1, 1, 1)
        scaled = acc * self.multiplier.view(shape) + 2.0 ** (self.shift - 1)
        out = torch.floor(scaled * 2.0**-self.shift)
        return torch.maximum(torch.minimum(out, self.high.view(shape)), self.low.view(shape))

    def tensors(self, prefix: str) -> dict[str, torch.Tensor]:
        """Integer tensors for a safetensors file (weights int8, the rest int64)."""
        return {
            f"{prefix}.weight": self.weight.to(torch.int8),
            f"{prefix}.bias": self.bias.to(torch.int64),
            f"{prefix}.multiplier": self.multiplier.to(torch.int64),
            f"{prefix}.low": self.low.to(torch.int64),
            f"{prefix}.high": self.high.to(torch.int64),
            f"{prefix}.config": torch.tensor(
                [self.shift, self.stride, self.padding, int(self.transposed)], dtype=torch.int64
            ),
        }

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], prefix: str) -> IntegerLayer:
        shift, stride, padding, transposed = (int(v) for v in tensors[f"{prefix}.config"])
        get = lambda name: tensors[f"{prefix}.{name}"].to(torch.float64)  # noqa: E731
        return cls(
            get("weight"),
            get("bias"),
            get("multiplier"),
            get("low"),
            get("high"),
            shift,
            stride,
            padding,
            bool(transposed),
        )


class IntegerNetwork:
    """A chain of :class:`IntegerLayer`; input integers are clamped to ``input_bound``."""

    def __init__(self, layers: list[IntegerLayer], input_bound: int) -> None:
        self.layers = layers
        self.input_bound = input_bound

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float64).clamp(-self.input_bound, self.input_bound)
        for layer in self.layers:
            x = layer(x)
        return x

    def tensors(self, prefix: str) -> dict[str, torch.Tensor]:
        shape = torch.tensor([self.input_bound, len(self.layers)], dtype=torch.int64)
        out = {f"{prefix}.shape": shape}
        for i, layer in enumerate(self.layers):
            out.update(layer.tensors(f"{prefix}.{i}"))
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], prefix: str) -> IntegerNetwork:
        input_bound, count = (int(v) for v in tensors[f"{prefix}.shape"])
        layers = [IntegerLayer.from_tensors(tensors, f"{prefix}.{i}") for i in range(count)]
        return cls(layers, input_bound)


def _convs(sequential: nn.Sequential) -> list[nn.Conv2d | nn.ConvTranspose2d]:
    convs = [m for m in sequential if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    others = [m for m in sequential if not isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.ReLU))]
    if others:
        raise ValueError(f"cannot convert {type(others[0]).__name__} to an integer layer")
    return convs


def _float_layer(conv: nn.Conv2d | nn.ConvTranspose2d, x: torch.Tensor) -> torch.Tensor:
    w = conv.weight.double()
    b = None if conv.bias is None else conv.bias.double()
    if isinstance(conv, nn.ConvTranspose2d):
        return F.conv_transpose2d(x, w, b, conv.stride, conv.padding, conv.output_padding)
    return F.conv2d(x, w, b, conv.stride, conv.padding)


@torch.no_grad()
def export_integer_network(
    sequential: nn.Sequential,
    calibration: torch.Tensor,
    input_bound: int,
    output_scales: torch.Tensor,
    output_low: torch.Tensor,
    output_high: torch.Tensor,
    percentile: float = 0.9999,
) -> IntegerNetwork:
    """Integer version of a float chain conv -> ReLU -> ... -> conv.

    calibration: typical integer inputs (B,C,H,W); hidden activations are quantized to
    0..255 with a scale set by their ``percentile`` on it. output_scales/low/high: (out,)
    real value of one output step and the integer clamp range of each output channel.
    """
    convs = _convs(sequential)
    x_float = calibration.clamp(-input_bound, input_bound).double()
    in_scale, in_max = 1.0, float(input_bound)
    layers = []
    for i, conv in enumerate(convs):
        last = i == len(convs) - 1
        w = conv.weight.double()
        out_axis = 1 if isinstance(conv, nn.ConvTranspose2d) else 0
        reduce_dims = [d for d in range(4) if d != out_axis]
        w_scale = w.abs().amax(dim=reduce_dims).clamp_min(1e-12) / WEIGHT_MAX
        view = [1, 1, 1, 1]
        view[out_axis] = -1
        w_int = torch.round(w / w_scale.view(view))
        b = conv.bias.double() if conv.bias is not None else torch.zeros(w_scale.shape)
        b_int = torch.round(b / (w_scale * in_scale))
        # Float reference of this layer on the calibration data (sets the activation scale).
        x_float = _float_layer(conv, x_float)
        if last:
            out_scale, low, high = output_scales.double(), output_low.double(), output_high.double()
        else:
            x_float = torch.relu(x_float)
            peak = torch.quantile(x_float.flatten()[: 1 << 24], percentile).item()
            out_scale = torch.full(w_scale.shape, max(peak, 1e-6) / ACTIVATION_MAX)
            low, high = torch.zeros(w_scale.shape), torch.full(w_scale.shape, ACTIVATION_MAX)
        ratio = w_scale * in_scale / out_scale
        fan_in = w[0].numel() if out_axis == 0 else w[:, 0].numel()
        acc_bound = fan_in * in_max * WEIGHT_MAX + b_int.abs().max().item()
        shift = int(math.floor(math.log2(EXACT_LIMIT / (acc_bound * ratio.max().item()))))
        shift = min(shift, 40)
        multiplier = torch.round(ratio * 2.0**shift)
        if multiplier.min() < 16:
            raise ValueError(f"layer {i}: multiplier precision too low (shift {shift})")
        layers.append(
            IntegerLayer(
                w_int,
                b_int,
                multiplier,
                low,
                high,
                shift,
                conv.stride[0],
                conv.padding[0],
                isinstance(conv, nn.ConvTranspose2d),
            )
        )
        in_scale, in_max = out_scale, float(ACTIVATION_MAX)
        if not last:
            in_scale = out_scale[0].item()
            x_float = torch.round(x_float / in_scale).clamp(0, ACTIVATION_MAX) * in_scale
    return IntegerNetwork(layers, input_bound)

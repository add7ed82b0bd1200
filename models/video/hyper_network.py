"""Hyper mode networks (after TeCoNeRV, Padmanabhan et al. 2025, and NeRV-Enc): a
hypernetwork predicts, for every **patch tubelet** (``FRAMES`` frames x a ``PATCH`` x
``PATCH`` patch), the weights of a small conv "hyponet" that renders it.

Per-tubelet weights (what is quantized and transmitted), for a segment of ``FRAMES`` frames
padded to multiples of ``PATCH``:

* ``grid`` (BASIS * LATENT, H/16, W/16): the hyponet's first layer. It acts on a fixed
  positional encoding, one-hot over the 4x4 cells of 16x16 pixels of the patch times a DCT-II
  basis over the tubelet's frames, so its weights are, per cell, ``BASIS`` x ``LATENT``
  numbers: frame t's input features are ``sum_k dct[k, t] * grid[k]``.
* ``film`` (2 * sum(FILM_WIDTHS), H/64, W/64): a per-channel scale (1 + s) and shift of the
  outputs of the first two upsampling layers (their weights times diag(1 + s), their bias plus
  the shift), one vector per tubelet, blended bilinearly between tubelet centres.

The rest of the hyponet (four 3x3 conv + PixelShuffle(2) + GELU upsampling layers and a 3x3
head with a sigmoid) is shared by all tubelets and shipped with the codec. The shared layers
run over the whole frame, so the tubelets' hyponets see their neighbours' first-layer outputs
and patch borders do not show. The codec rounds the weights to multiples of a quantization
``step`` (one per quality); the hypernetwork is told the step, so one network serves every
quality.

Shapes: frames (FRAMES, 3, H, W) in [0, 1], H and W multiples of ``PATCH``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.video.network import ConvNeXtBlock

FRAMES = 4
PATCH = 64
CELL = 16


@dataclass(frozen=True)
class HyperConfig:
    """``latent``: first-layer output channels; ``basis``: DCT terms over the tubelet's
    frames; ``widths``: outputs of the four upsampling layers; ``film``: how many of them get
    a per-tubelet scale and shift; ``hidden``: hypernetwork channels."""

    latent: int = 16
    basis: int = FRAMES
    widths: tuple[int, ...] = (48, 32, 24, 12)
    film: int = 2
    hidden: int = 96

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def grid_channels(self) -> int:
        return self.basis * self.latent

    @property
    def film_channels(self) -> int:
        return 2 * sum(self.widths[: self.film])


def dct_basis(basis: int, frames: int = FRAMES) -> torch.Tensor:
    """(basis, frames) orthonormal DCT-II rows."""
    t = torch.arange(frames, dtype=torch.float64) + 0.5
    rows = [torch.cos(math.pi * k * t / frames) for k in range(basis)]
    scale = torch.tensor([math.sqrt(1 / frames)] + [math.sqrt(2 / frames)] * (basis - 1))
    return (torch.stack(rows) * scale[:, None].double()).float()


class Hyponet(nn.Module):
    """Renders a segment from its per-tubelet weights: (grid, film) -> (FRAMES, 3, H, W)."""

    def __init__(self, config: HyperConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("dct", dct_basis(config.basis), persistent=False)
        inputs = (config.latent, *config.widths[:-1])
        self.ups = nn.ModuleList(
            nn.Conv2d(c_in, 4 * c_out, 3, padding=1)
            for c_in, c_out in zip(inputs, config.widths, strict=True)
        )
        self.head = nn.Conv2d(config.widths[-1], 3, 3, padding=1)

    def inputs(self, grid: torch.Tensor) -> torch.Tensor:
        """(BASIS*LATENT, h, w) or (B, BASIS*LATENT, h, w) -> (B*FRAMES, LATENT, h, w)."""
        grid = grid if grid.dim() == 4 else grid[None]
        b, _, h, w = grid.shape
        per_basis = grid.reshape(b, self.config.basis, self.config.latent, h, w)
        frames = torch.einsum("kt,bkchw->btchw", self.dct, per_basis)
        return frames.reshape(b * FRAMES, self.config.latent, h, w)

    def render(self, x: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        """First-layer features (N, LATENT, h, w) and film (N, FILM, h/4, w/4) of the
        frames' tubelets -> (N, 3, 16h, 16w) in [0, 1]."""
        offset = 0
        for index, layer in enumerate(self.ups):
            x = F.pixel_shuffle(layer(x), 2)
            if index < self.config.film:
                c = x.shape[1]
                size = x.shape[-2:]
                scale = F.interpolate(film[:, offset : offset + c], size, mode="bilinear")
                shift = F.interpolate(film[:, offset + c : offset + 2 * c], size, mode="bilinear")
                x = x * (1 + scale) + shift
                offset += 2 * c
            x = F.gelu(x)
        return torch.sigmoid(self.head(x))

    def forward(self, grid: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        """grid (B, BASIS*LATENT, H/16, W/16), film (B, FILM, H/64, W/64) ->
        (B*FRAMES, 3, H, W)."""
        return self.render(self.inputs(grid), film.repeat_interleave(FRAMES, dim=0))


class HyperNetwork(nn.Module):
    """Segment frames (B, FRAMES, 3, H, W) and quantization steps (B,) -> per-tubelet weights
    (grid (B, BASIS*LATENT, H/16, W/16), film (B, FILM, H/64, W/64))."""

    def __init__(self, config: HyperConfig) -> None:
        super().__init__()
        c = config.hidden
        self.features = nn.Sequential(
            nn.Conv2d(3 * FRAMES + 1, c, 4, stride=4),
            ConvNeXtBlock(c),
            nn.Conv2d(c, c, 2, stride=2),
            ConvNeXtBlock(c),
            nn.Conv2d(c, c, 2, stride=2),
            ConvNeXtBlock(c),
        )
        self.grid = nn.Conv2d(c, config.grid_channels, 1)
        self.film = nn.Sequential(
            nn.Conv2d(c, c, 4, stride=4), nn.GELU(), nn.Conv2d(c, config.film_channels, 1)
        )

    def forward(
        self, frames: torch.Tensor, step: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, _, h, w = frames.shape
        level = torch.log2(step).to(frames.dtype).reshape(b, 1, 1, 1).expand(b, 1, h, w)
        x = self.features(torch.cat([frames.reshape(b, 3 * t, h, w), level], dim=1))
        return self.grid(x), self.film(x)


def coding_groups(
    grid: torch.Tensor, film: torch.Tensor, config: HyperConfig
) -> list[torch.Tensor]:
    """The codec's integer groups of a batch of segments, each (B, n): the grid per DCT term,
    the film per layer and scale/shift (one Laplace table per group in the bitstream)."""
    b = grid.shape[0]
    groups = list(grid.reshape(b, config.basis, -1).unbind(1))
    offset = 0
    for c in config.widths[: config.film]:
        for _ in "sb":
            groups.append(film[:, offset : offset + c].reshape(b, -1))
            offset += c
    return groups


def laplace_bits(values: torch.Tensor) -> torch.Tensor:
    """Differentiable coded size (bits) of each row of ``values`` (B, n) (integers, or
    integers plus rounding noise) under the zero-mean Laplace law whose standard deviation is
    the row's (at least 0.11), as the codec's laplace-v1 tables code a group: (B,)."""
    scale = values.std(dim=1, keepdim=True).clamp(min=0.11) / math.sqrt(2)

    def cdf(x: torch.Tensor) -> torch.Tensor:
        return 0.5 + 0.5 * torch.sign(x) * (1 - torch.exp(-x.abs() / scale))

    mass = (cdf(values + 0.5) - cdf(values - 0.5)).clamp(min=1e-9)
    return -torch.log2(mass).sum(dim=1)


def rate_bits(grid: torch.Tensor, film: torch.Tensor, config: HyperConfig) -> torch.Tensor:
    """Coded size (bits) of each segment's integers (B, ...): (B,)."""
    return sum(laplace_bits(group.float()) for group in coding_groups(grid, film, config))


def with_noise(values: torch.Tensor) -> torch.Tensor:
    """Training proxy of rounding to integers: uniform noise of one unit."""
    return values + torch.rand_like(values) - 0.5


def round_straight_through(values: torch.Tensor) -> torch.Tensor:
    """Rounded in the forward pass, identity gradient (refinement through the quantizer)."""
    return values + (torch.round(values) - values).detach()

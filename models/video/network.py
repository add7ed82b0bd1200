"""HNeRV-style per-video network (Chen et al., "HNeRV: A Hybrid Neural Representation for
Videos", CVPR 2023), sized for CPU fitting.

A small ConvNeXt encoder maps each (padded) frame to a content-adaptive embedding of
``embed`` channels at 1/32 of the frame size; the decoder maps embeddings back to frames with
five upsampling blocks (3x3 conv -> PixelShuffle(2) -> GELU) whose widths shrink towards the
output, then a 3x3 conv and a sigmoid. Only the decoder's weights and the embeddings are
transmitted; the encoder is a fitting aid and is thrown away.

Shapes: frames (T, 3, H, W) float in [0, 1] with H, W multiples of :data:`STRIDE`;
embeddings (T, embed, H/32, W/32).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

STRIDE = 32


@dataclass(frozen=True)
class NervConfig:
    """``embed``: embedding channels; ``widths``: decoder channels from the embedding side
    (six numbers: the input of each of the five upsampling blocks, then the output head)."""

    embed: int = 8
    widths: tuple[int, ...] = (32, 32, 24, 16, 12, 8)

    def __post_init__(self) -> None:
        if len(self.widths) != 6 or min(self.widths) < 1 or self.embed < 1:
            raise ValueError(f"bad network config {self}")


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 conv, channel LayerNorm, pointwise MLP (x4), residual."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = nn.GroupNorm(1, channels)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, 4 * channels, 1), nn.GELU(), nn.Conv2d(4 * channels, channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm(self.depthwise(x)))


class Encoder(nn.Module):
    """(T, 3, H, W) -> (T, embed, H/32, W/32): a 4x4 patchify stem, then two stages of a
    ConvNeXt block and a 2x2 downsampling, and a final 2x2 projection to the embedding."""

    def __init__(self, config: NervConfig, width: int = 32) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, width, 4, stride=4),
            ConvNeXtBlock(width),
            nn.Conv2d(width, width, 2, stride=2),
            ConvNeXtBlock(width),
            nn.Conv2d(width, width, 2, stride=2),
            nn.Conv2d(width, config.embed, 2, stride=2),
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.layers(frames)


class Decoder(nn.Module):
    """(T, embed, h, w) -> (T, 3, 32h, 32w) in [0, 1]."""

    def __init__(self, config: NervConfig) -> None:
        super().__init__()
        w = config.widths
        blocks: list[nn.Module] = [nn.Conv2d(config.embed, w[0], 1)]
        for c_in, c_out in zip(w[:-1], w[1:], strict=True):
            blocks += [nn.Conv2d(c_in, 4 * c_out, 3, padding=1), nn.PixelShuffle(2), nn.GELU()]
        blocks += [nn.Conv2d(w[-1], 3, 3, padding=1)]
        self.layers = nn.Sequential(*blocks)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.layers(embeddings))

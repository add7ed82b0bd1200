"""Tiled networks (models/image/tiling.py) compute the whole-image function: on a real photo,
with tiles far smaller than the codec's, the analysis and the synthesis give the values of the
whole-image path, and the codec's files and decoded pixels stay the same (the integer
hyper-synthesis and context networks tiled as well)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import codec
from models.image import tiling
from models.image.codec import WEIGHTS
from models.image.model import ImageModel
from models.image.network import BottleneckBlock, NetworkConfig, transform_layers, transform_reach
from tests.conftest import ROOT

# 384x256: a 24x16 latent grid, six 8x8 tiles
PHOTO = np.asarray(Image.open(ROOT / "samples" / "seeding_384x256.png").convert("RGB"))


def test_tiled_transforms_equal_the_whole_image(monkeypatch):
    model = ImageModel.load(WEIGHTS)
    x = torch.from_numpy(PHOTO.copy()).permute(2, 0, 1)[None].float() / 255
    y = model.analysis(x, 5.0)  # 16x24 latents: one tile
    x_hat = model.synthesis(torch.round(y), 5.0)
    monkeypatch.setattr(tiling, "TILE", 8)
    tiled_y = model.analysis(x, 5.0)
    tiled_x_hat = model.synthesis(torch.round(y), 5.0)
    assert tiled_y.shape == y.shape == (1, model.config.m, 16, 24)
    assert tiled_x_hat.shape == x_hat.shape == (1, 3, 256, 384)
    # the halo covers the receptive field: measured bit-identical, float rounding allowed
    torch.testing.assert_close(tiled_y, y, rtol=0, atol=1e-5)
    torch.testing.assert_close(tiled_x_hat, x_hat, rtol=0, atol=1e-5)


def test_codec_files_and_pixels_do_not_depend_on_the_tile_size(monkeypatch):
    image = PHOTO[:200, :300]  # odd size: padded to 256x320, a 16x20 latent grid
    blob = codec.encode(image, kind="image", quality=4)
    decoded = codec.decode(blob).media
    monkeypatch.setattr(tiling, "TILE", 4)
    assert codec.encode(image, kind="image", quality=4) == blob
    assert np.array_equal(codec.decode(blob).media, decoded)


def test_grids_up_to_one_tile_take_the_whole_image_path():
    calls = []

    def upsample(v: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(v.shape[2:]))
        return v.repeat_interleave(16, 2).repeat_interleave(16, 3)[:, :3]

    halo = 6
    tiling.tiled(upsample, torch.zeros(1, 4, tiling.TILE, 5), 1, 16, halo)
    assert calls == [(tiling.TILE, 5)]
    calls.clear()
    y = torch.arange(4 * (tiling.TILE + 1) * 5, dtype=torch.float32).reshape(1, 4, -1, 5)
    out = tiling.tiled(upsample, y, 1, 16, halo)
    assert calls == [(tiling.TILE + 1, 5), (1 + halo, 5)]
    assert torch.equal(out, upsample(y))


def test_large_images_report_progress_per_tile_and_group(monkeypatch, capsys):
    from codec.container import ContainerReader
    from codec.registry import DecodeOptions, EncodeOptions
    from models.image.codec import ImageCodec

    monkeypatch.setattr(tiling, "TILE", 8)  # 256x320 padded: a 16x20 grid, 2x3 tiles
    image = PHOTO[:200, :300]
    image_codec = ImageCodec()
    image_codec.encode(image, EncodeOptions(quality=4, progress=True))
    assert "encoding image" in capsys.readouterr().err
    blob = codec.encode(image, kind="image", quality=4)
    reader = ContainerReader(blob)
    decoded = image_codec.decode(reader.header, reader.iter_chunks(), DecodeOptions(progress=True))
    assert "synthesis" in capsys.readouterr().err
    assert np.array_equal(decoded, codec.decode(blob).media)


@pytest.mark.parametrize(
    ("blocks", "half_blocks", "g_a_extra_blocks", "g_a_extra_half_blocks"),
    [(0, 0, 0, 0), (1, 1, 0, 0), (2, 0, 0, 0), (0, 2, 0, 0), (7, 3, 0, 0), (1, 1, 2, 3)],
)
def test_transform_reach_is_the_receptive_radius(
    blocks, half_blocks, g_a_extra_blocks, g_a_extra_half_blocks
):
    """g_a: a latent far from the borders depends on exactly the pixels within its
    transform_reach of its corner pixel; g_s: pixel (128, 128) depends only on latents within
    g_s's reach, so halos of ceil(reach / 16) latent positions cover both (random weights,
    blocks active; g_a's extra blocks widen only g_a's reach)."""
    torch.manual_seed(0)
    config = NetworkConfig(
        n=16,
        m=8,
        blocks=blocks,
        half_blocks=half_blocks,
        g_a_extra_blocks=g_a_extra_blocks,
        g_a_extra_half_blocks=g_a_extra_half_blocks,
    )
    reach = transform_reach(config, analysis=True)
    g_a, g_s = transform_layers(config)
    for block in [*g_a, *g_s]:
        if isinstance(block, BottleneckBlock):
            torch.nn.init.normal_(block.expand.weight, std=0.1)
    x = torch.rand(1, 3, 256 + 2 * reach, 256 + 2 * reach, requires_grad=True)
    corner = 16 * ((128 + reach) // 16)
    g_a(x)[0, :, corner // 16, corner // 16].sum().backward()
    offsets = (x.grad[0].abs().sum(0) > 0).nonzero() - corner
    assert offsets.min() == -reach and offsets.max() == reach
    synthesis_reach = transform_reach(config, analysis=False)
    assert synthesis_reach == reach - 12 * g_a_extra_blocks - 2 * g_a_extra_half_blocks
    y = torch.rand(1, 8, 16, 16, requires_grad=True)
    g_s(y)[0, :, 128, 128].sum().backward()
    latent_offsets = 16 * (y.grad[0].abs().sum(0) > 0).nonzero() - 128
    assert latent_offsets.abs().max() <= synthesis_reach

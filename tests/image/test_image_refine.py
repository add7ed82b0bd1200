"""Encoder-side latent refinement (``--refine``) of the image codec with the shipped weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import codec
from codec.container import ContainerReader
from codec.errors import InvalidParameterError
from models.image.codec import WEIGHTS
from models.image.model import ImageModel
from models.image.refine import rd_objective, refine_latent
from tests.conftest import ROOT

# a 384x64 strip of the bundled photo (any size works; small keeps the test fast)
CROP = np.asarray(Image.open(ROOT / "samples" / "seeding_384x256.png").convert("RGB"))[64:128]


def test_refinement_lowers_the_rd_objective():
    model = ImageModel.load(WEIGHTS)
    net = model.float_network()
    x = torch.from_numpy(CROP.copy()).permute(2, 0, 1)[None].float() / 255
    y, _ = model.analysis(x, 3.0)
    refined = refine_latent(net, x, y, 3.0, steps=4)
    with torch.no_grad():
        before, after = rd_objective(net, y, x, 3.0), rd_objective(net, refined, x, 3.0)
    assert after < before
    assert refined.shape == y.shape and not refined.requires_grad


def test_refined_files_are_ordinary_files():
    plain = codec.encode(CROP, kind="image", quality=4)
    refined = codec.encode(CROP, kind="image", quality=4, refine=3)
    assert refined != plain
    for blob in (plain, refined):
        assert ContainerReader(blob).header.codec_id == "image-v1"
        assert codec.decode(blob).media.shape == CROP.shape


@pytest.mark.parametrize("steps", [-1, 10_001])
def test_refine_out_of_range_is_refused(steps):
    with pytest.raises(InvalidParameterError, match="--refine"):
        codec.encode(CROP, kind="image", refine=steps)

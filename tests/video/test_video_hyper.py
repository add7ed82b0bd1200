"""Hyper-mode parts: the rate model used in training and refinement agrees with the coder,
the integer groups round-trip, the temporal basis is orthonormal."""

from __future__ import annotations

import numpy as np
import torch

from models.video.hyper import decode_groups, encode_groups, group_shapes, split_groups
from models.video.hyper_network import (
    FRAMES,
    HyperConfig,
    coding_groups,
    dct_basis,
    rate_bits,
)


def random_weights(config: HyperConfig, height: int, width: int, seed: int):
    """Integer grid and film of one segment, Laplace-distributed with a spread per group."""
    rng = np.random.default_rng(seed)
    shapes = group_shapes(config, height, width)
    groups = [
        np.round(rng.laplace(0, scale, size=shape))
        for shape, scale in zip(shapes, np.geomspace(0.2, 8, len(shapes)), strict=True)
    ]
    grid = torch.from_numpy(np.concatenate(groups[: config.basis])).float()
    film = torch.from_numpy(np.concatenate(groups[config.basis :])).float()
    return grid, film


def test_rate_model_matches_the_coded_size():
    """``rate_bits`` (what training and --refine minimise) is within 3 % of the bytes the
    coder writes for the same integers (group headers and stream end included)."""
    config = HyperConfig()
    for seed, (height, width) in enumerate([(240, 416), (128, 128)]):
        grid, film = random_weights(config, height, width, seed)
        estimate = float(rate_bits(grid[None], film[None], config)[0])
        coded = 8 * len(encode_groups(split_groups(grid, film, config)))
        assert abs(coded - estimate) < 0.03 * coded


def test_integer_groups_round_trip():
    config = HyperConfig()
    grid, film = random_weights(config, 100, 70, 3)
    groups = split_groups(grid, film, config)
    assert [g.shape for g in groups] == group_shapes(config, 100, 70)
    assert [g.size for g in groups] == [
        g.shape[1] for g in coding_groups(grid[None], film[None], config)
    ]
    decoded = decode_groups(encode_groups(groups), group_shapes(config, 100, 70))
    assert all((a == b).all() for a, b in zip(groups, decoded, strict=True))


def test_temporal_basis_is_orthonormal():
    basis = dct_basis(FRAMES).double()
    assert torch.allclose(basis @ basis.T, torch.eye(FRAMES, dtype=torch.float64), atol=1e-6)

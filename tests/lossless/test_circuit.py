"""HCLT circuit: a normalised distribution, exact marginals, EM that improves likelihood."""

from __future__ import annotations

import numpy as np
import torch

from models.lossless.circuit import HCLT
from models.lossless.structure import chow_liu_tree, mutual_information


def correlated_data(n: int = 400, d: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (n, 1))
    noise = rng.integers(-20, 21, (n, d))
    return np.clip(base + noise * np.arange(1, d + 1), 0, 255).astype(np.uint8)


def test_chow_liu_tree_is_a_spanning_tree_rooted_at_its_centre():
    data = correlated_data(d=9)
    tree = chow_liu_tree(data)
    assert (tree.parent < 0).sum() == 1 and sorted(np.concatenate(tree.levels)) == list(range(9))
    for depth, level in enumerate(tree.levels[1:], start=1):
        assert np.isin(tree.parent[level], tree.levels[depth - 1]).all()
    info = mutual_information(data)
    assert np.allclose(info, info.T) and (info >= -1e-9).all()
    # variables 0 and 1 (least noise) share the most information
    assert info[0, 1] == info[0].max()


def test_probabilities_sum_to_one_and_marginals_are_exact():
    tree = chow_liu_tree(correlated_data(d=2))
    circuit = HCLT(tree, hidden=3, seed=1)
    grid = torch.cartesian_prod(torch.arange(256), torch.arange(256))
    total = torch.logsumexp(circuit.log_likelihood(grid), dim=0)
    assert abs(total.item()) < 1e-4
    # p(x_0) with x_1 marginalised equals the sum over x_1
    observed = torch.tensor([[True, False]])
    for value in (0, 77, 255):
        x = torch.tensor([[value, 0]])
        brute = torch.logsumexp(circuit.log_likelihood(grid[grid[:, 0] == value]), dim=0)
        assert abs(circuit.log_likelihood(x, observed).item() - brute.item()) < 1e-4


def test_em_raises_the_likelihood_of_the_training_data():
    data = torch.from_numpy(correlated_data(n=600, d=8).astype(np.int64))
    circuit = HCLT(chow_liu_tree(data.numpy().astype(np.uint8)), hidden=4)
    before = circuit.bits_per_dimension(data)
    for _ in range(5):
        circuit.em_step(data, step=0.5)
    after = circuit.bits_per_dimension(data)
    assert after < before - 0.5
    assert torch.allclose(circuit.log_trans.exp().sum(-1), torch.ones(8, 4))


def test_efficient_conditionals_equal_the_naive_scheme_and_chain_to_the_joint():
    from models.lossless.conditionals import conditionals_naive, conditionals_sequential

    data = correlated_data(n=300, d=7, seed=3)
    circuit = HCLT(chow_liu_tree(data), hidden=3, seed=2)
    x = torch.from_numpy(data[:4].astype(np.int64))
    order = [3, 0, 6, 1, 5, 2, 4]
    naive = conditionals_naive(circuit, x, order)
    fast = conditionals_sequential(circuit, x, order)
    assert (naive - fast).abs().max() < 1e-4
    assert torch.allclose(fast.exp().sum(dim=2), torch.ones(4, 7), atol=1e-5)
    chained = fast.gather(2, x[:, order][:, :, None]).sum(dim=(1, 2))
    assert (chained - circuit.log_likelihood(x)).abs().max() < 1e-4


def test_tied_emission_basis_is_normalised_and_trains():
    data = torch.from_numpy(correlated_data(n=600, d=5).astype(np.int64))
    circuit = HCLT(chow_liu_tree(data.numpy().astype(np.uint8)), hidden=4, basis=6)
    emit = circuit.log_emit()
    assert emit.shape == (5, 4, 256)
    assert torch.allclose(emit.exp().sum(-1), torch.ones(5, 4), atol=1e-5)
    # the input layer agrees with the expanded table
    direct = circuit.log_likelihood(data[:4])
    full = HCLT(circuit.tree, hidden=4)
    full.set_parameters([circuit.log_prior, circuit.log_trans, emit])
    assert torch.allclose(direct, full.log_likelihood(data[:4]), atol=1e-4)
    before = circuit.bits_per_dimension(data)
    prior = torch.full((256,), 1.0 / 256)
    for _ in range(5):
        circuit.em_step(data, step=0.5, value_prior=prior)
    assert circuit.bits_per_dimension(data) < before - 0.5

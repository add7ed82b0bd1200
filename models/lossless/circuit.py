"""Hidden Chow-Liu tree (HCLT) probabilistic circuit over 8-bit variables, in log space.

Every variable x_d has a hidden z_d with k states; the z follow the Chow-Liu tree::

    p(x) = sum_z p(z_root) prod_{d != root} p(z_d | z_parent(d)) prod_d p(x_d | z_d)

As a circuit: categorical input nodes p(x_d | z_d) (256 values), product nodes that join a
node's input with its children's messages, and sum nodes p(z_d | z_parent) -- one grouped
sum layer (kernels.sum_layer) per tree depth, evaluated bottom-up::

    L_d(z)   = log p(x_d | z) + sum_{c in children(d)} m_c(z)        (product layer)
    m_d(z')  = log sum_z exp(log p(z_d = z | z_parent = z') + L_d(z))  (sum layer)

With ``basis=J`` the input distributions are tied: p(x_d | z_d) = sum_j w_d(j | z_d) b_j(x_d),
J categorical "value profiles" b_j shared by all variables (an extra sum layer over shared
input nodes). That cuts the emission parameters from D*k*256 to D*k*J + J*256, which matters
when training data is scarce (10k MNIST digits): intermediate grey levels are rare, and a
per-pixel table over 256 values overfits them.

Marginal queries set log p(x_d | z) = 0 for marginalised variables (exact, the PC is smooth
and decomposable). Training is mini-batch EM: the gradient of sum log p(x) with respect to the
log-parameters is the expected count ("flow") of every parameter, and each step moves the
parameters towards the normalised counts.
"""

from __future__ import annotations

import numpy as np
import torch

from kernels import sum_layer
from models.lossless.structure import Tree

VALUES = 256


class HCLT:
    """Parameters (float32 log-probabilities, each normalised over its last axis):
    ``log_prior`` (k,), ``log_trans`` (D, k, k) with rows = parent state, and the emission:
    ``(log_emit,)`` (D, k, 256), or with a basis ``(log_weights, log_basis)`` (D, k, J) and
    (J, 256)."""

    def __init__(self, tree: Tree, hidden: int, basis: int = 0, seed: int = 0) -> None:
        self.tree, self.hidden, self.basis = tree, hidden, basis
        d = tree.parent.size
        generator = torch.Generator().manual_seed(seed)

        def random_log_probs(*shape: int) -> torch.Tensor:
            return torch.log_softmax(torch.rand(*shape, generator=generator) * 2.0, dim=-1)

        self.log_prior = random_log_probs(hidden)
        self.log_trans = random_log_probs(d, hidden, hidden)
        if basis:
            # value profiles start as narrow bumps spread over 0..255 (random profiles are all
            # alike and EM is slow to pull them apart)
            centres = torch.linspace(0, VALUES - 1, basis)[:, None]
            width = (VALUES - 1) / max(basis - 1, 1) / 2
            bumps = -0.5 * ((torch.arange(VALUES)[None, :] - centres) / width) ** 2
            self.emission = (random_log_probs(d, hidden, basis), torch.log_softmax(bumps, dim=-1))
        else:
            self.emission = (random_log_probs(d, hidden, VALUES),)
        self._parents = [torch.from_numpy(tree.parent[level]) for level in tree.levels]
        self._levels = [torch.from_numpy(level) for level in tree.levels]

    def log_likelihood(
        self,
        x: torch.Tensor,
        observed: torch.Tensor | None = None,
        params: tuple[torch.Tensor, ...] | None = None,
    ) -> torch.Tensor:
        """x: (B, D) integer values 0..255; observed: (B, D) bool (None: all observed).

        Returns (B,) log p(x_observed) in nats (other variables marginalised).
        """
        log_prior, log_trans, *emission = params or self.parameters()
        emit = self._input_layer(x.long(), emission)
        if observed is not None:
            emit = emit * observed[:, :, None]
        node = emit
        for level, parents in zip(reversed(self._levels), reversed(self._parents), strict=True):
            if parents[0] < 0:  # the root
                break
            messages = sum_layer(node[:, level, :], log_trans[level])  # (B, |level|, k)
            node = node.index_add(1, parents, messages)
        root = self.tree.root
        return torch.logsumexp(log_prior[None, :] + node[:, root, :], dim=-1)

    def _input_layer(self, x: torch.Tensor, emission: list[torch.Tensor]) -> torch.Tensor:
        """(B, D, k) log p(x_d | z_d) for (B, D) values."""
        d = self.tree.parent.size
        if not self.basis:
            return emission[0][torch.arange(d)[None, :], :, x]
        log_weights, log_basis = emission
        profiles = log_basis.T[x]  # (B, D, J) log b_j(x_d)
        top = profiles.amax(dim=2, keepdim=True)
        mixed = torch.einsum("bdj,dkj->bdk", (profiles - top).exp(), log_weights.exp())
        return mixed.log() + top

    def log_emit(self) -> torch.Tensor:
        """(D, k, 256) log p(x_d = v | z_d) for every value v."""
        if not self.basis:
            return self.emission[0]
        log_weights, log_basis = self.emission
        return torch.log(log_weights.exp() @ log_basis.exp())

    def em_step(
        self,
        x: torch.Tensor,
        step: float,
        pseudocount: float = 1e-3,
        value_prior: torch.Tensor | None = None,
    ) -> float:
        """One mini-batch EM update with step size ``step`` in (0, 1]; returns the batch's
        mean log-likelihood in nats (before the update).

        ``pseudocount`` is added to every expected count; ``value_prior`` (256,), if given,
        replaces it for the distributions over values (``log_emit`` or ``log_basis``), e.g. a
        scaled histogram of the training values (smoothing towards plausible grey levels)."""
        params = tuple(p.clone().requires_grad_(True) for p in self.parameters())
        log_p = self.log_likelihood(x, params=params)
        log_p.sum().backward()
        updated = []
        last = len(params) - 1
        for index, (param, log_value) in enumerate(zip(params, self.parameters(), strict=True)):
            smoothing = value_prior if index == last and value_prior is not None else pseudocount
            counts = param.grad + smoothing
            target = counts / counts.sum(dim=-1, keepdim=True)
            mixed = (1 - step) * log_value.exp() + step * target
            updated.append(torch.log(mixed / mixed.sum(dim=-1, keepdim=True)))
        self.set_parameters(updated)
        return float(log_p.detach().mean())

    def parameters(self) -> tuple[torch.Tensor, ...]:
        """(log_prior, log_trans, *emission)."""
        return self.log_prior, self.log_trans, *self.emission

    def set_parameters(self, params: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> None:
        self.log_prior, self.log_trans, *emission = params
        self.emission = tuple(emission)

    def bits_per_dimension(self, x: torch.Tensor, batch: int = 1000) -> float:
        """Mean -log2 p(x) / D over (N, D) data."""
        with torch.no_grad():
            total = sum(
                float(self.log_likelihood(x[i : i + batch]).sum()) for i in range(0, len(x), batch)
            )
        return -total / (len(x) * x.shape[1] * np.log(2))

"""Hidden Chow-Liu tree (HCLT) probabilistic circuit over 8-bit variables, in log space.

Every variable x_d has a hidden z_d with k states; the z follow the Chow-Liu tree::

    p(x) = sum_z p(z_root) prod_{d != root} p(z_d | z_parent(d)) prod_d p(x_d | z_d)

As a circuit: categorical input nodes p(x_d | z_d) (256 values), product nodes that join a
node's input with its children's messages, and sum nodes p(z_d | z_parent) -- one grouped
sum layer (kernels.sum_layer) per tree depth, evaluated bottom-up::

    L_d(z)   = log p(x_d | z) + sum_{c in children(d)} m_c(z)        (product layer)
    m_d(z')  = log sum_z exp(log p(z_d = z | z_parent = z') + L_d(z))  (sum layer)

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
    """Parameters: ``log_prior`` (k,), ``log_trans`` (D, k, k) with rows = parent state,
    ``log_emit`` (D, k, 256); all float32, normalised in probability space."""

    def __init__(self, tree: Tree, hidden: int, seed: int = 0) -> None:
        self.tree, self.hidden = tree, hidden
        d = tree.parent.size
        generator = torch.Generator().manual_seed(seed)

        def random_log_probs(*shape: int) -> torch.Tensor:
            return torch.log_softmax(torch.rand(*shape, generator=generator) * 2.0, dim=-1)

        self.log_prior = random_log_probs(hidden)
        self.log_trans = random_log_probs(d, hidden, hidden)
        self.log_emit = random_log_probs(d, hidden, VALUES)
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
        log_prior, log_trans, log_emit = params or (self.log_prior, self.log_trans, self.log_emit)
        d = self.tree.parent.size
        # input layer: (B, D, k) log p(x_d | z_d)
        emit = log_emit[torch.arange(d)[None, :], :, x.long()]  # (B, D, k)
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

    def em_step(self, x: torch.Tensor, step: float, pseudocount: float = 1e-3) -> float:
        """One mini-batch EM update with step size ``step`` in (0, 1]; returns the batch's
        mean log-likelihood in nats (before the update)."""
        params = tuple(p.clone().requires_grad_(True) for p in self.parameters())
        log_p = self.log_likelihood(x, params=params)
        log_p.sum().backward()
        updated = []
        for param, log_value in zip(params, self.parameters(), strict=True):
            counts = param.grad + pseudocount
            target = counts / counts.sum(dim=-1, keepdim=True)
            mixed = (1 - step) * log_value.exp() + step * target
            updated.append(torch.log(mixed / mixed.sum(dim=-1, keepdim=True)))
        self.log_prior, self.log_trans, self.log_emit = updated
        return float(log_p.detach().mean())

    def parameters(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.log_prior, self.log_trans, self.log_emit

    def bits_per_dimension(self, x: torch.Tensor, batch: int = 1000) -> float:
        """Mean -log2 p(x) / D over (N, D) data."""
        with torch.no_grad():
            total = sum(
                float(self.log_likelihood(x[i : i + batch]).sum()) for i in range(0, len(x), batch)
            )
        return -total / (len(x) * x.shape[1] * np.log(2))

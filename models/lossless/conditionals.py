"""Conditionals log p(x_i = v | x_<i) of an HCLT for all 256 values v, variable by variable.

Two schemes with the same results (tests compare them):

- :func:`conditionals_naive`: for every position, evaluate the whole circuit on 256 copies of
  the batch (one per candidate value), with the earlier variables observed and the later ones
  marginalised: O(D * |circuit| * 256) per image.
- :class:`SequentialConditionals`: the efficient scheme (after Liu et al. 2022): keep every
  node's inside value L_d(z) (evidence below d) and message m_d(z') to its parent for the
  current evidence. The conditional of x_i needs only the *outside* value of node i,
  computed down the path root -> i from the inside values of the path's nodes, and
  observing x_i changes only the messages on the path i -> root. Each step costs
  O(depth * k^2 + k * 256) per image instead of a pass over the whole circuit.
"""

from __future__ import annotations

import torch

from kernels import sum_layer
from models.lossless.circuit import HCLT, VALUES


def conditionals_naive(circuit: HCLT, x: torch.Tensor, order: list[int]) -> torch.Tensor:
    """(B, len(order), 256) log p(x_i = v | x_<i) with x: (B, D) ints; reference scheme."""
    batch, d = x.shape
    observed = torch.zeros(batch * VALUES, d, dtype=torch.bool)
    candidates = x.repeat_interleave(VALUES, dim=0).clone()
    values = torch.arange(VALUES).repeat(batch)
    out = []
    for i in order:
        observed[:, i] = True
        trial = candidates.clone()
        trial[:, i] = values
        joint = circuit.log_likelihood(trial, observed).reshape(batch, VALUES)
        out.append(torch.log_softmax(joint, dim=1))
    return torch.stack(out, dim=1)


class SequentialConditionals:
    """State of the efficient scheme for a batch of B images (see the module docstring)."""

    def __init__(self, circuit: HCLT, batch: int) -> None:
        self.circuit = circuit
        parent = circuit.tree.parent
        d, k = parent.size, circuit.hidden
        self.parent = parent.tolist()
        self.paths = [self._path(i) for i in range(d)]
        self.log_emit = circuit.log_emit()
        # no evidence yet: every input contributes log 1 = 0
        self.inside = torch.zeros(batch, d, k)
        self.message = torch.zeros(batch, d, k)
        for level in reversed(circuit.tree.levels[1:]):
            for node in level.tolist():
                self._refresh_message(node)

    def _path(self, node: int) -> list[int]:
        path = [node]
        while self.parent[path[-1]] >= 0:
            path.append(self.parent[path[-1]])
        return path[::-1]  # root first

    def _refresh_message(self, node: int) -> None:
        """Recompute the message of ``node`` to its parent and fold it into the parent."""
        log_trans = self.circuit.log_trans[node][None]  # (1, k parent, k child)
        new = sum_layer(self.inside[:, node, None, :], log_trans)[:, 0, :]
        parent = self.parent[node]
        self.inside[:, parent] += new - self.message[:, node]
        self.message[:, node] = new

    def conditional(self, i: int) -> torch.Tensor:
        """(B, 256) log p(x_i = v | evidence so far) for every value v."""
        path = self.paths[i]
        outside = self.circuit.log_prior.expand(self.inside.shape[0], -1)
        for node, child in zip(path[:-1], path[1:], strict=True):
            above = outside + self.inside[:, node] - self.message[:, child]
            log_trans = self.circuit.log_trans[child].T[None]  # (1, k child, k parent)
            outside = sum_layer(above[:, None, :], log_trans)[:, 0, :]
        total = outside + self.inside[:, i]  # (B, k)
        joint = torch.logsumexp(total[:, :, None] + self.log_emit[i][None], dim=1)
        return torch.log_softmax(joint, dim=1)

    def observe(self, i: int, values: torch.Tensor) -> None:
        """Add the evidence x_i = values (B,) and update the messages on the path to the root."""
        self.inside[:, i] += self.log_emit[i][:, values.long()].T
        for node in reversed(self.paths[i][1:]):
            self._refresh_message(node)


def conditionals_sequential(circuit: HCLT, x: torch.Tensor, order: list[int]) -> torch.Tensor:
    """Same output as :func:`conditionals_naive`, with the efficient scheme."""
    state = SequentialConditionals(circuit, x.shape[0])
    out = []
    for i in order:
        out.append(state.conditional(i))
        state.observe(i, x[:, i])
    return torch.stack(out, dim=1)

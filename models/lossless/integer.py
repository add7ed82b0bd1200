"""Integer HCLT: the circuit the lossless codec actually codes with, bit-exact on every machine.

The float circuit (models.lossless.circuit) is trained; its probabilities are then quantized
once into positive integer tables that ship with the codec:

- ``prior`` (k,) and ``trans`` (D, k, k) rows sum to 2**TRANS_BITS,
- ``emit`` (D, k, 256) rows sum to 2**EMIT_BITS.

Inference is the efficient sequential scheme of models.lossless.conditionals, carried out on
non-negative int64 vectors in *linear* space, each renormalised after every product or sum by
a right shift that brings its largest entry below 2**MESSAGE_BITS. A common scale factor of a
vector cancels in the final normalisation, so no exponents are kept. Every operation is exact
integer arithmetic: element-wise int64 products (< 2**47), and matrix products done in float64
whose every partial sum is an integer below 2**53 (so BLAS summation order, FMA or threading
cannot change a bit). The 256 conditional frequencies of a variable then become a 24-bit table
with :func:`entropy.quantize_counts` (integers only). Encoder and decoder run the same steps on
the same integers, hence identical tables on any platform.

Cost per variable and image: O(depth * k^2 + k * 256), like the float scheme.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from entropy import quantize_counts, quantize_probabilities
from entropy.tables import shift_rows_below

VALUES = 256
TRANS_BITS = 16
EMIT_BITS = 20
MESSAGE_BITS = 27
TABLE_BITS = 24
MAX_HIDDEN = 64
# exactness of the float64 products: k * 2**(MESSAGE_BITS + max(TRANS_BITS, EMIT_BITS)) < 2**53
assert MAX_HIDDEN * 2 ** (MESSAGE_BITS + max(TRANS_BITS, EMIT_BITS)) <= 2**53


@dataclass(frozen=True)
class IntegerTables:
    """parent: (D,) int64 (-1 at the root); prior (k,), trans (D, k, k) [d, parent state,
    child state], emit (D, k, 256): positive integers, rows summing to 2**TRANS_BITS /
    2**EMIT_BITS (the root's ``trans`` rows are unused)."""

    parent: np.ndarray
    prior: np.ndarray
    trans: np.ndarray
    emit: np.ndarray

    @property
    def hidden(self) -> int:
        return int(self.prior.shape[0])

    @property
    def dims(self) -> int:
        return int(self.parent.shape[0])

    # derived once per tables (a shipped circuit is loaded once per process), not per batch

    @cached_property
    def children(self) -> list[list[int]]:
        children: list[list[int]] = [[] for _ in range(self.dims)]
        for node, up in enumerate(self.parent.tolist()):
            if up >= 0:
                children[up].append(node)
        return children

    @cached_property
    def paths(self) -> list[list[int]]:
        """Path root -> node of every node."""
        parent = self.parent.tolist()
        paths = []
        for node in range(self.dims):
            path = [node]
            while parent[path[-1]] >= 0:
                path.append(parent[path[-1]])
            paths.append(path[::-1])
        return paths

    @cached_property
    def trans_down(self) -> np.ndarray:
        """(D, k parent, k child) float64 copy of ``trans`` (exact: integers < 2**17)."""
        return self.trans.astype(np.float64)

    @cached_property
    def trans_up(self) -> np.ndarray:
        """(D, k child, k parent) float64, for messages to the parent."""
        return np.ascontiguousarray(self.trans_down.transpose(0, 2, 1))

    @cached_property
    def emit_float(self) -> np.ndarray:
        """(D, k, 256) float64 copy of ``emit`` (exact)."""
        return self.emit.astype(np.float64)


def _quantize(log_probs: np.ndarray, bits: int) -> np.ndarray:
    """Integer rows (int64, same shape) summing to 2**bits for float log-probability rows."""
    p = np.exp(np.asarray(log_probs, np.float64))
    return quantize_probabilities(p.reshape(-1, p.shape[-1]), bits).reshape(p.shape)


def quantize_circuit(parent: np.ndarray, params: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Integer parameter arrays of a float circuit (done once, at export; see
    :func:`tables_from_arrays`). params: log_prior, log_trans and the emission parameters
    (log_emit, or log_weights + log_basis) of models.lossless.circuit.HCLT."""
    log_prior, log_trans, *emission = params
    k = log_prior.shape[0]
    if not 2 <= k <= MAX_HIDDEN:
        raise ValueError(f"2..{MAX_HIDDEN} hidden states, got {k}")
    arrays = {
        "parent": np.asarray(parent, np.int64),
        "prior": _quantize(log_prior, TRANS_BITS),
        "trans": _quantize(log_trans, TRANS_BITS),
    }
    if len(emission) == 1:
        arrays["emit"] = _quantize(emission[0], EMIT_BITS)
    else:
        arrays["weights"] = _quantize(emission[0], TRANS_BITS)
        arrays["basis"] = _quantize(emission[1], TRANS_BITS)
    return {name: a.astype(np.int64) for name, a in arrays.items()}


def tables_from_arrays(arrays: dict[str, np.ndarray]) -> IntegerTables:
    """Tables from integer parameter arrays. A tied emission (``weights`` (D, k, J) and
    ``basis`` (J, 256)) is expanded exactly: rows of weights @ basis (integers < 2**38) are
    quantized with :func:`entropy.quantize_counts`."""
    if "emit" in arrays:
        emit = arrays["emit"].astype(np.int64)
    else:
        weights, basis = arrays["weights"], arrays["basis"]
        d, k, _ = weights.shape
        mixed = _exact_matmul(weights.reshape(d * k, -1).astype(np.int64), basis.astype(np.float64))
        emit = quantize_counts(mixed, EMIT_BITS).astype(np.int64).reshape(d, k, VALUES)
    return IntegerTables(
        arrays["parent"].astype(np.int64),
        arrays["prior"].astype(np.int64),
        arrays["trans"].astype(np.int64),
        emit,
    )


def _renormalise(v: np.ndarray) -> np.ndarray:
    """Rows of a non-negative (B, n) int64 array shifted below 2**MESSAGE_BITS."""
    return shift_rows_below(v, MESSAGE_BITS)


def _exact_matmul(v: np.ndarray, table: np.ndarray) -> np.ndarray:
    """(B, n) int64 @ (n, m) float64-held integers, exact (see the module docstring)."""
    return (v.astype(np.float64) @ table).astype(np.int64)


class IntegerConditionals:
    """Sequential conditionals of a batch of B images (all at the same position).

    Only what the evidence changed is recomputed (the efficient scheme, done lazily):

    - a node's message to its parent is recomputed when it is next *needed* after evidence
      was added below it (``dirty`` marks such nodes; an observation marks its path up to
      the root, stopping at the first node already marked); children without any evidence
      below (``seen`` false) send the constant message and are skipped in products;
    - the outside value of a node depends only on evidence outside its subtree, so the
      outside values along the previous query's path stay valid for every node above the
      variable observed since, and the next query starts below the longest shared prefix.

    A message or outside value is a fixed function of the current evidence, whenever it is
    computed, so this schedule gives exactly the integers of recomputing everything.
    """

    def __init__(self, tables: IntegerTables, batch: int) -> None:
        self.tables = tables
        d, k = tables.dims, tables.hidden
        self.parent = tables.parent.tolist()
        self.children, self.paths = tables.children, tables.paths
        self._trans, self._trans_up = tables.trans_down, tables.trans_up
        self._emit = tables.emit_float
        self.observed: list[np.ndarray | None] = [None] * d  # (B, k) evidence factors
        # messages of subtrees without evidence are constant: any constant vector will do
        self.message = np.ones((d, batch, k), dtype=np.int64)
        self.dirty = [False] * d
        self.seen = [False] * d  # evidence somewhere in the subtree (else the message is 1)
        root = np.broadcast_to(tables.prior, (batch, k))
        self._outside: list[tuple[int, np.ndarray]] = [(self.parent.index(-1), root)]

    def _message(self, node: int) -> np.ndarray:
        """Current (B, k) message of ``node`` to its parent."""
        if self.dirty[node]:
            inside = self._product(node, None)
            self.message[node] = _renormalise(_exact_matmul(inside, self._trans_up[node]))
            self.dirty[node] = False
        return self.message[node]

    def _product(self, node: int, start: np.ndarray | None, skip: int = -1) -> np.ndarray:
        """start ⊙ evidence(node) ⊙ messages of node's children except ``skip`` (None = 1)."""
        value = start
        factors = [self._message(c) for c in self.children[node] if c != skip and self.seen[c]]
        if self.observed[node] is not None:
            factors.append(self.observed[node])
        for factor in factors:
            value = factor if value is None else _renormalise(value * factor)
        return value

    def frequencies(self, i: int) -> np.ndarray:
        """(B, 256) int32 table rows (each summing to 2**TABLE_BITS) for x_i given the
        evidence so far; x_i must not be observed yet."""
        path = self.paths[i]
        cached = self._outside
        shared = 0
        while shared < min(len(cached), len(path)) and cached[shared][0] == path[shared]:
            shared += 1
        outside = cached[shared - 1][1]
        chain = cached[:shared]
        for node, child in zip(path[shared - 1 : -1], path[shared:], strict=True):
            above = self._product(node, outside, skip=child)
            outside = _renormalise(_exact_matmul(above, self._trans[child]))
            chain.append((child, outside))
        self._outside = chain
        total = self._product(i, outside)
        return quantize_counts(_exact_matmul(total, self._emit[i]), TABLE_BITS)

    def observe(self, i: int, values: np.ndarray) -> None:
        """Add the evidence x_i = values ((B,) ints)."""
        self.observed[i] = np.ascontiguousarray(self.tables.emit[i][:, values].T)
        node = i
        while node >= 0 and not self.dirty[node]:
            self.dirty[node] = self.seen[node] = True
            node = self.parent[node]
        # outside values stay valid for the ancestors of i (and i itself)
        ancestors = set(self.paths[i])
        keep = 0
        while keep < len(self._outside) and self._outside[keep][0] in ancestors:
            keep += 1
        self._outside = self._outside[:keep]

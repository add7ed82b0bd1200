"""HCLT structure learning: a Chow-Liu tree over the observed variables (pixels).

Liu, Mandt, Van den Broeck (ICLR 2022) build a hidden Chow-Liu tree: the maximum spanning tree
of pairwise mutual information between variables gives the edges; every variable gets a hidden
variable with k states, and the hidden variables follow the tree (models.lossless.circuit).

Mutual information is estimated on values quantized to ``levels`` bins (8-bit pixels >>
shift), from a one-hot co-occurrence matrix: (D * levels)^2 counts in one matrix product.
The tree is rooted at its centre, which minimises its height (the number of sum layers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree


@dataclass(frozen=True)
class Tree:
    """parent: (D,) int64, -1 at the root; levels: node arrays by depth (root first)."""

    parent: np.ndarray
    levels: tuple[np.ndarray, ...]

    @property
    def root(self) -> int:
        return int(np.flatnonzero(self.parent < 0)[0])


def mutual_information(data: np.ndarray, levels: int = 8) -> np.ndarray:
    """(D, D) mutual information in nats between the columns of (N, D) uint8 ``data``."""
    n, d = data.shape
    shift = 8 - int(np.log2(levels))
    codes = (data >> shift).astype(np.int64) + levels * np.arange(d)
    onehot = np.zeros((n, d * levels), dtype=np.float32)
    onehot[np.arange(n)[:, None], codes] = 1.0
    joint = (onehot.T @ onehot).reshape(d, levels, d, levels).transpose(0, 2, 1, 3) / n
    marginal = np.einsum("iiab->ia", joint)  # (D, levels)
    outer = marginal[:, None, :, None] * marginal[None, :, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / outer), 0.0)
    info = terms.sum(axis=(2, 3))
    np.fill_diagonal(info, 0.0)
    return info


def grid_neighbours(height: int, width: int) -> np.ndarray:
    """(H*W, H*W) 0/1 matrix of 4-neighbour pixel pairs (raster order)."""
    index = np.arange(height * width).reshape(height, width)
    adjacency = np.zeros((height * width, height * width))
    for a, b in ((index[:, :-1], index[:, 1:]), (index[:-1, :], index[1:, :])):
        adjacency[a.ravel(), b.ravel()] = adjacency[b.ravel(), a.ravel()] = 1.0
    return adjacency


def chow_liu_tree(data: np.ndarray, levels: int = 8, grid: tuple[int, int] | None = None) -> Tree:
    """Maximum-MI spanning tree of the columns of (N, D) uint8 ``data``, rooted at its centre.

    ``grid`` (H, W): the columns are the pixels of an image in raster order; ties (pixels
    that never vary, such as MNIST's empty border, have zero information with everything)
    are broken towards 4-neighbours, so they form chains instead of one node with hundreds
    of children (which would make every product at that node slow).
    """
    d = data.shape[1]
    if d == 1:
        return Tree(np.array([-1]), (np.array([0]),))
    info = mutual_information(data, levels)
    if grid is not None:
        info = info + 1e-9 * grid_neighbours(*grid)
    # minimum spanning tree of (max - MI): positive weights keep every edge in the graph
    weights = info.max() + 1e-6 - info
    np.fill_diagonal(weights, 0.0)
    mst = minimum_spanning_tree(weights)
    graph = mst + mst.T
    far = breadth_first_order(graph, 0, directed=False)[0][-1]
    order, predecessors = breadth_first_order(graph, far, directed=False)
    path = [order[-1]]  # the longest path, from its far end back to ``far``
    while predecessors[path[-1]] >= 0:
        path.append(predecessors[path[-1]])
    root = int(path[len(path) // 2])
    _, predecessors = breadth_first_order(graph, root, directed=False)
    return tree_from_parent(np.where(predecessors < 0, -1, predecessors).astype(np.int64))


def tree_from_parent(parent: np.ndarray) -> Tree:
    """The :class:`Tree` of a (D,) parent array (-1 at the root)."""
    parent = np.asarray(parent, dtype=np.int64)
    depth = np.full(parent.size, -1, dtype=np.int64)
    depth[parent < 0] = 0
    for _ in range(parent.size):
        if (depth >= 0).all():
            break
        ready = (depth < 0) & (depth[np.maximum(parent, 0)] >= 0)
        depth[ready] = depth[parent[ready]] + 1
    return Tree(parent, tuple(np.flatnonzero(depth == k) for k in range(depth.max() + 1)))

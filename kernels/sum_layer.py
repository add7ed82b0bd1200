"""Grouped sum layer of a probabilistic circuit in log space (the hot loop of PC inference).

For G groups of sum nodes, each with O outputs over the same I inputs (e.g. the k x k
transition of one HCLT edge)::

    out[b, g, o] = log sum_i exp(log_w[g, o, i] + log_x[b, g, i])

log_x: (B, G, I) float32 log-values of the children; log_w: (G, O, I) float32 log-weights.
Returns (B, G, O) float32. ``-inf`` inputs (zero probability) are allowed; a row of only
``-inf`` gives ``-inf``.

:func:`sum_layer_reference` is plain torch; :func:`sum_layer` dispatches to the Triton kernel
for CUDA tensors (or when ``TRITON_INTERPRET=1`` is set, which runs the kernel on CPU for
tests) and to the reference elsewhere. The kernel shifts each input row by its maximum,
multiplies ``exp(x - max)`` by ``exp(log_w)`` with an IEEE-precision ``tl.dot`` and adds
the maximum back: one pass, no (B, G, O, I) intermediate.
"""

from __future__ import annotations

import os

import torch


def sum_layer_reference(log_x: torch.Tensor, log_w: torch.Tensor) -> torch.Tensor:
    """Pure-torch grouped log-sum-exp layer (see the module docstring for shapes).

    The same computation as the kernel: shift each input row by its maximum, one batched
    matrix product per group, shift back -- memory O(B G (I + O)), not O(B G O I).
    """
    _check(log_x, log_w)
    shift = log_x.amax(dim=2, keepdim=True).nan_to_num(neginf=0.0)
    mixed = torch.bmm((log_x - shift).exp().transpose(0, 1), log_w.exp().transpose(1, 2))
    return mixed.transpose(0, 1).log() + shift


def sum_layer(log_x: torch.Tensor, log_w: torch.Tensor) -> torch.Tensor:
    """Kernel on CUDA (or under TRITON_INTERPRET=1), reference elsewhere."""
    if log_x.is_cuda or os.environ.get("TRITON_INTERPRET") == "1":
        from kernels.sum_layer_triton import sum_layer_triton

        _check(log_x, log_w)
        return sum_layer_triton(log_x, log_w)
    return sum_layer_reference(log_x, log_w)


def _check(log_x: torch.Tensor, log_w: torch.Tensor) -> None:
    if log_x.dim() != 3 or log_w.dim() != 3:
        raise ValueError(f"need log_x (B,G,I) and log_w (G,O,I), got {log_x.shape}, {log_w.shape}")
    if log_x.shape[1] != log_w.shape[0] or log_x.shape[2] != log_w.shape[2]:
        raise ValueError(f"shapes do not match: log_x {log_x.shape}, log_w {log_w.shape}")
    if log_x.dtype != torch.float32 or log_w.dtype != torch.float32:
        raise ValueError("sum_layer works in float32")

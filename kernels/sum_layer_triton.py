"""Triton kernel of :func:`kernels.sum_layer.sum_layer` (imported only when it is used)."""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _load_inputs(x_base, i, stride_xi, rows, n_batch, n_in):
    """(BLOCK_B, BLOCK_I) tile of input log-values, -inf outside the tensor."""
    mask = (rows[:, None] < n_batch) & (i[None, :] < n_in)
    return tl.load(x_base + i[None, :] * stride_xi, mask=mask, other=float("-inf"))


@triton.jit
def _sum_layer_kernel(
    x_ptr, w_ptr, out_ptr,
    n_batch, n_groups, n_out, n_in,
    stride_xb, stride_xg, stride_xi,
    stride_wg, stride_wo, stride_wi,
    stride_ob, stride_og, stride_oo,
    BLOCK_B: tl.constexpr, BLOCK_O: tl.constexpr, BLOCK_I: tl.constexpr,
):  # fmt: skip
    """One program: a (BLOCK_B x BLOCK_O) tile of one group; loops over inputs in BLOCK_I."""
    pid_b, pid_o, g = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    rows = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    outs = pid_o * BLOCK_O + tl.arange(0, BLOCK_O)
    cols = tl.arange(0, BLOCK_I)
    x_base = x_ptr + g * stride_xg + rows[:, None] * stride_xb
    w_base = w_ptr + g * stride_wg + outs[None, :] * stride_wo
    # pass 1: maximum of each input row (the shift that keeps exp() in range)
    row_max = tl.full((BLOCK_B,), float("-inf"), tl.float32)
    for start in range(0, n_in, BLOCK_I):
        i = start + cols
        x = _load_inputs(x_base, i, stride_xi, rows, n_batch, n_in)
        row_max = tl.maximum(row_max, tl.max(x, axis=1))
    shift = tl.where(row_max == float("-inf"), 0.0, row_max)
    # pass 2: sum_i exp(x - shift) * exp(w), as a matrix product
    acc = tl.zeros((BLOCK_B, BLOCK_O), tl.float32)
    for start in range(0, n_in, BLOCK_I):
        i = start + cols
        x = _load_inputs(x_base, i, stride_xi, rows, n_batch, n_in)
        w = tl.load(
            w_base + i[:, None] * stride_wi,
            mask=(outs[None, :] < n_out) & (i[:, None] < n_in),
            other=float("-inf"),
        )
        acc += tl.dot(tl.exp(x - shift[:, None]), tl.exp(w), input_precision="ieee")
    result = tl.log(acc) + shift[:, None]
    out = out_ptr + g * stride_og + rows[:, None] * stride_ob + outs[None, :] * stride_oo
    tl.store(out, result, mask=(rows[:, None] < n_batch) & (outs[None, :] < n_out))


def sum_layer_triton(log_x: torch.Tensor, log_w: torch.Tensor) -> torch.Tensor:
    """log_x (B,G,I), log_w (G,O,I) float32 on one device -> (B,G,O)."""
    batch, groups, inputs = log_x.shape
    outputs = log_w.shape[1]
    out = torch.empty((batch, groups, outputs), dtype=torch.float32, device=log_x.device)
    block_b, block_o, block_i = 32, 32, 32  # tl.dot needs tiles of at least 16
    grid = (triton.cdiv(batch, block_b), triton.cdiv(outputs, block_o), groups)
    _sum_layer_kernel[grid](
        log_x, log_w, out,
        batch, groups, outputs, inputs,
        *log_x.stride(), *log_w.stride(), *out.stride(),
        BLOCK_B=block_b, BLOCK_O=block_o, BLOCK_I=block_i,
    )  # fmt: skip
    return out

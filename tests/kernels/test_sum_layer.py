"""The Triton sum-layer kernel matches its torch reference (run on CPU by Triton's
interpreter, TRITON_INTERPRET=1, in a child process: the variable is read at import)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from kernels import sum_layer
from tests.conftest import ROOT

CHILD = """
import torch
from kernels import sum_layer, sum_layer_reference
torch.manual_seed(0)  # oracle: broadcast + torch.logsumexp
worst = 0.0
for B, G, O, I in [(1, 1, 1, 1), (5, 3, 7, 9), (64, 10, 32, 32), (33, 2, 40, 70), (70, 1, 16, 200)]:
    x = torch.randn(B, G, I) * 4
    x[0, 0, :] = float("-inf")                      # a zero-probability child row
    if I > 3:
        x[-1, -1, :3] = float("-inf")
    w = torch.log_softmax(torch.randn(G, O, I), dim=-1)
    w[0, 0, 0] = float("-inf")                      # a zero weight
    got, want = sum_layer(x, w), torch.logsumexp(w[None] + x[:, :, None, :], dim=-1)
    assert (sum_layer_reference(x, w) - want).nan_to_num().abs().max() <= 1e-5
    assert got.shape == want.shape == (B, G, O)
    assert torch.equal(torch.isneginf(got), torch.isneginf(want))
    finite = torch.isfinite(want)
    assert torch.isfinite(got[finite]).all()
    if finite.any():
        worst = max(worst, (got[finite] - want[finite]).abs().max().item())
print(worst)
"""


def test_triton_kernel_matches_reference_in_the_interpreter():
    pytest.importorskip("triton")
    env = dict(os.environ, TRITON_INTERPRET="1")
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", CHILD],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout.split()[-1]) <= 1e-5


def test_dispatcher_uses_the_reference_on_cpu_and_checks_shapes(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    x = torch.randn(4, 2, 3)
    w = torch.log_softmax(torch.randn(2, 5, 3), dim=-1)
    expected = torch.log(torch.einsum("bgi,goi->bgo", x.exp(), w.exp()))
    torch.testing.assert_close(sum_layer(x, w), expected, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="do not match"):
        sum_layer(x, torch.zeros(3, 5, 3))
    with pytest.raises(ValueError, match="float32"):
        sum_layer(x.double(), w.double())

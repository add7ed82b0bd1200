"""The lossy goldens decode within their tolerance on CPUs with other vector units, emulated
here by capping the instruction sets torch's kernels may use (ATen's vectorized kernels, oneDNN
and MKL read these variables when they load, hence a fresh process per setting)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

CPUS = {
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    },
    "sse4": {
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
        "MKL_CBWR": "COMPATIBLE",
    },
}
GOLDEN_TESTS = [f"tests/conformance/test_{kind}_golden.py" for kind in ("image", "audio", "video")]


@pytest.mark.parametrize("cpu", CPUS)
def test_lossy_goldens_decode_within_tolerance_on_another_cpu(cpu):
    env = {**os.environ, **CPUS[cpu]}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "reference"]
        + GOLDEN_TESTS,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]

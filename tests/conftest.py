"""Shared fixtures: paths to ../shared/data (tests that need it skip when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available at {SHARED_DATA} (see shared/data/README.md)")
    return SHARED_DATA


def run_python(script: str, blas_threads: int) -> str:
    """stdout of ``python -c script`` in the repository root with numpy's BLAS limited to
    ``blas_threads`` threads (fixed when numpy loads, hence a fresh process)."""
    import os
    import subprocess
    import sys

    threads = str(blas_threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()

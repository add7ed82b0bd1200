"""Run folders of the training tools: the run state is written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import torch


def save_run_state(path: Path, state: dict) -> None:
    """``torch.save(state)`` to ``path`` through a temp file + rename, so a run killed while
    writing keeps its previous state."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)

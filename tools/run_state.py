"""Run folders of the training tools: the run state is written atomically, and SIGTERM
asks a run to save and stop."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import torch


def save_run_state(path: Path, state: dict) -> None:
    """``torch.save(state)`` to ``path`` through a temp file + rename, so a run killed while
    writing keeps its previous state."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def stop_on_sigterm() -> list[bool]:
    """A list that becomes non-empty when the process gets SIGTERM: training loops test it,
    then save their state and exit, instead of dying halfway through a step or a save."""
    stop: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    return stop

"""Training-loop hook: save compressed checkpoints, each coded against the previous one.

    writer = CheckpointWriter("runs/ckpt", mode="near-lossless", max_error=1e-2)
    for step in ...:
        ...
        if step % 500 == 0:
            writer.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                         "step": step})
    state = load_checkpoint("runs/ckpt", "step_000500")   # decodes the chain up to it

Files are ``<dir>/<name>.ncdc`` (default name ``step_<n>``, n = 0, 1, ...). Every
``keyframe_every``-th save is coded alone, so loading never decodes more than that many
files. The writer keeps the last *decoded* state in memory as the next reference.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

from codec import api
from codec.errors import InputError, InvalidParameterError
from codec.media.checkpoint import from_object

SUFFIX = ".ncdc"
MODES = ("lossless", "near-lossless")


class CheckpointWriter:
    """Saves states (nested dicts/lists of torch tensors and scalars) into ``directory``."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        mode: str = "lossless",
        max_error: float = 1e-2,
        state_error: float = 0.1,
        keyframe_every: int = 20,
    ) -> None:
        if mode not in MODES:
            raise InvalidParameterError(f"mode must be one of {MODES}, got {mode!r}")
        if keyframe_every < 1:
            raise InvalidParameterError("keyframe_every must be >= 1")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        near = mode == "near-lossless"
        self.max_error = max_error if near else None
        self.state_error = state_error if near else None
        self.keyframe_every = keyframe_every
        self.saved: list[Path] = []
        self._reference: Any = None

    def save(self, state: Any, name: str | None = None) -> Path:
        """Encode ``state``; returns the file written. The state is not modified."""
        name = name or f"step_{len(self.saved):06d}"
        if not re.fullmatch(r"[\w.-]+", name):
            raise InvalidParameterError(f"checkpoint name {name!r}: use letters, digits, ._-")
        if len(self.saved) % self.keyframe_every == 0:
            self._reference = None
        reference = None
        if self._reference is not None:
            previous = self.saved[-1].name.removesuffix(SUFFIX)
            reference = from_object(self._reference, name=previous)
        blob = api.encode(
            state,
            kind="checkpoint",
            reference=reference,
            max_error=self.max_error,
            state_error=self.state_error,
        )
        path = self.directory / (name + SUFFIX)
        tmp = path.with_name(f".{path.name}.partial")
        tmp.write_bytes(blob)
        os.replace(tmp, path)
        if self.max_error is None:
            self._reference = copy.deepcopy(state)
        else:
            self._reference = api.decode(blob, reference=reference).media
        self.saved.append(path)
        return path


def load_checkpoint(directory: str | os.PathLike[str], name: str) -> Any:
    """Decode ``<directory>/<name>.ncdc``, first decoding the references it depends on."""
    directory = Path(directory)
    chain: list[Path] = []
    path = directory / (name + SUFFIX)
    while True:
        if not path.is_file():
            raise InputError(f"checkpoint file {path} does not exist")
        chain.append(path)
        reference = api.info(path).metadata.get("reference")
        if reference is None:
            break
        path = directory / (str(reference) + SUFFIX)
        if len(chain) > 1 << 16:
            raise InputError("checkpoint reference chain is too long (a cycle?)")
    state = None
    for path in reversed(chain):
        state = api.decode(path.read_bytes(), reference=state).media
    return state

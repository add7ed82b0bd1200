"""A folder of checkpoints from one training run, each coded against the previous one.

``encode_series(run_dir, out_dir)`` writes ``out_dir/<name>.ncdc`` for every checkpoint in
``run_dir`` (natural name order: ``ckpt_2`` before ``ckpt_10``). The first is coded alone;
each next one against the previous *decoded* checkpoint (identical to the original in
lossless mode; in near-lossless mode the encoder decodes what it wrote, so errors never
accumulate). Each file records its reference's name; ``decode_series`` follows that chain.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from codec.api import DecodeReport, EncodeReport, PathLike, decode_file, encode_file, info
from codec.errors import BitstreamError, InputError, OutputExistsError
from codec.registry import get_kind

SUFFIX = ".ncdc"


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _folder(path: PathLike, role: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{role} {path} is not a folder (--series works on folders)")
    return path


def _prepare_output(path: PathLike) -> Path:
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"{path} exists and is not a folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


def checkpoint_files(folder: PathLike) -> list[Path]:
    """Checkpoint files of ``folder`` in natural name order."""
    extensions = get_kind("checkpoint").extensions
    files = [p for p in _folder(folder, "input").iterdir() if p.name.lower().endswith(extensions)]
    if not files:
        raise InputError(f"no checkpoint files ({', '.join(extensions)}) in {folder}")
    return sorted(files, key=_natural_key)


def encode_series(
    run_dir: PathLike,
    out_dir: PathLike,
    *,
    max_error: float | None = None,
    state_error: float | None = None,
    force: bool = False,
    progress: bool = False,
) -> list[EncodeReport]:
    """Encode every checkpoint of ``run_dir`` into ``out_dir``; one report per file."""
    files = checkpoint_files(run_dir)
    out = _prepare_output(out_dir)
    reports = []
    with tempfile.TemporaryDirectory(dir=out) as scratch:
        reference = None
        for index, src in enumerate(files):
            dst = out / (src.name + SUFFIX)
            reports.append(
                encode_file(
                    src,
                    dst,
                    kind="checkpoint",
                    reference=reference,
                    max_error=max_error,
                    state_error=state_error,
                    force=force,
                    progress=progress,
                )
            )
            if max_error is None:
                reference = src
            else:  # closed loop: the next file is coded against what the decoder will see
                decoded = Path(scratch) / str(index) / src.name  # keeps the name it records
                decoded.parent.mkdir()
                decode_file(dst, decoded, reference=reference)
                if reference is not None and reference.is_relative_to(scratch):
                    reference.unlink()
                reference = decoded
    return reports


def decode_series(
    in_dir: PathLike, out_dir: PathLike, *, force: bool = False, progress: bool = False
) -> list[DecodeReport]:
    """Decode every ``*.ncdc`` of ``in_dir`` into ``out_dir`` (original names)."""
    files = sorted(_folder(in_dir, "input").glob(f"*{SUFFIX}"), key=_natural_key)
    if not files:
        raise InputError(f"no {SUFFIX} files in {in_dir}")
    out = _prepare_output(out_dir)
    reports = []
    for src in files:
        name = src.name.removesuffix(SUFFIX)
        reference_name = info(src).metadata.get("reference")
        reference = None
        if reference_name is not None:
            reference = out / str(reference_name)
            if not reference.is_file():
                raise BitstreamError(
                    f"{src.name} was coded against {reference_name}, which is not in the series"
                )
        reports.append(
            decode_file(src, out / name, reference=reference, force=force, progress=progress)
        )
    return reports

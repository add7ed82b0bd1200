"""Move image training to a lent GPU machine and back (the `device` tool; docs/image.md).

    python tools/image_burst.py pack --data ~/.cache/codec/image_train --out burst
    # device run: command "bash tools/image_burst_device.sh", carry ["burst"]
    python tools/image_burst.py restore --returned <the run's files> --run <new run folder>

The device machine gets a copy of the working tree of at most 64 MiB, reaches no network and
returns at most 8 files of 16 MiB. So ``pack`` writes into ``burst/`` (git-ignored): the
wheels the device's Python 3.12 lacks (:data:`WHEELS`), and as many 512x512 crops of the training
images (round-robin, JPEG quality 95 without chroma subsampling) as fit the space the
working tree leaves, plus the held-out images whole, named to sort last so that the
trainer's ``--holdout`` picks them again. The device script starts from the shipped weights
(``--init``, in the tree already). ``unpack`` (on the device) turns the JPEGs back into the
trainer's ``.npy`` files; ``collect`` (on the device) writes the run state's weights and
their average as safetensors parts under 16 MiB plus ``run.json`` (step, config, training
segments) and the log; ``restore`` (here) rebuilds a run folder from them that
tools/train_image.py resumes (Adam restarts: its moments do not fit the return limit) and
tools/export_image_weights.py exports.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.run_state import save_run_state  # noqa: E402
from tools.train_image import training_paths  # noqa: E402

TREE_LIMIT = 64 << 20  # bytes of working tree that travel to the device machine
RETURN_FILE_LIMIT = 16 << 20  # bytes per file that come back from it
RETURN_LIMIT, RETURN_FILES = 64 << 20, 8  # bytes and files in all
MARGIN = 1 << 20
CROP = 512
JPEG_QUALITY = 95
#: What the device's Python 3.12 lacks: CompressAI for training, constriction for the image
#: conformance tests the device script runs after training (a second CPU and torch version).
WHEELS = ("compressai==1.2.8", "constriction==0.5.0")
PLATFORMS = ("manylinux_2_34_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
STATE_PARTS = ("model", "ema")


def tree_bytes() -> int:
    """Bytes of the working tree that travel: tracked and untracked-not-ignored files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    return sum((ROOT / name.decode()).stat().st_size for name in listed if name)


def jpeg_bytes(image: np.ndarray) -> bytes:
    """(H, W, 3) uint8 -> JPEG quality 95, 4:4:4."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    return buffer.getvalue()


def pack_images(
    paths: list[Path], holdout: int, budget: int, out: Path, seed: int = 0
) -> tuple[int, int]:
    """Write the last ``holdout`` images whole as ``{index:03d}.jpg`` and 512x512 crops of
    the others as ``{index:03d}_{round:02d}.jpg``, one crop per image per round, until the
    next crop would pass ``budget`` bytes in all. Returns (crops, bytes written)."""
    out.mkdir(parents=True, exist_ok=True)
    train, held_out = paths[:-holdout], paths[-holdout:]
    used = 0
    for index, path in enumerate(held_out, start=len(train)):
        data = jpeg_bytes(np.load(path))
        (out / f"{index:03d}.jpg").write_bytes(data)
        used += len(data)
    if used > budget:
        raise SystemExit(f"the held-out images alone take {used} bytes, over {budget}")
    rng = random.Random(seed)
    crops, rounds = 0, 0
    while True:
        for index, path in enumerate(train):
            image = np.load(path, mmap_mode="r")
            h, w = min(CROP, image.shape[0]), min(CROP, image.shape[1])
            top, left = rng.randrange(image.shape[0] - h + 1), rng.randrange(image.shape[1] - w + 1)
            data = jpeg_bytes(np.ascontiguousarray(image[top : top + h, left : left + w]))
            if used + len(data) > budget:
                return crops, used
            (out / f"{index:03d}_{rounds:02d}.jpg").write_bytes(data)
            used += len(data)
            crops += 1
        rounds += 1


def pack(args: argparse.Namespace) -> None:
    if args.out.exists():
        raise SystemExit(f"{args.out} exists: remove it first")
    paths = training_paths(args.data)
    if len(paths) <= args.holdout:
        raise SystemExit(f"need more than {args.holdout} .npy images in {args.data}")
    wheels = args.out / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--python-version", "3.12", "--implementation", "cp",
         *(f"--platform={p}" for p in PLATFORMS), "-d", str(wheels), *WHEELS],
        check=True,
    )  # fmt: skip
    fixed = tree_bytes() + sum(p.stat().st_size for p in wheels.iterdir())
    crops, used = pack_images(paths, args.holdout, TREE_LIMIT - fixed - MARGIN, args.out / "images")
    travel = fixed + used
    print(
        f"{crops} crops of {len(paths) - args.holdout} images + {args.holdout} held-out images, "
        f"{used / 1e6:.1f} MB; the working tree with burst/ is {travel / 2**20:.1f} MiB "
        f"of {TREE_LIMIT >> 20}"
    )


def unpack(args: argparse.Namespace) -> None:
    from PIL import Image

    args.data.mkdir(parents=True, exist_ok=True)
    for path in sorted((args.burst / "images").glob("*.jpg")):
        with Image.open(path) as image:
            np.save(args.data / f"{path.stem}.npy", np.asarray(image.convert("RGB")))


def state_parts(tensors: dict[str, torch.Tensor], limit: int) -> list[dict[str, torch.Tensor]]:
    """Split a state dict into consecutive parts of at most ``limit`` bytes each."""
    parts: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, value in tensors.items():
        nbytes = value.numel() * value.element_size()
        if parts[-1] and size + nbytes > limit:
            parts.append({})
            size = 0
        parts[-1][key] = value.detach().cpu().contiguous()
        size += nbytes
    return parts


def collect(args: argparse.Namespace) -> None:
    from safetensors.torch import save_file

    state = torch.load(args.run / "latest.pt", map_location="cpu", weights_only=True)
    parts = {name: state_parts(state[name], RETURN_FILE_LIMIT - MARGIN) for name in STATE_PARTS}
    files = sum(map(len, parts.values())) + 3  # + run.json, train.log, conformance.log
    nbytes = sum(v.numel() * v.element_size() for name in STATE_PARTS for v in state[name].values())
    if files > RETURN_FILES or nbytes > RETURN_LIMIT - MARGIN:
        raise SystemExit(f"{files} files / {nbytes} bytes exceed the device tool's return limits")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, name_parts in parts.items():
        for i, part in enumerate(name_parts):
            save_file(part, str(args.out / f"{name}-{i}.safetensors"))
    meta = {key: state[key] for key in ("step", "config", "segments", "ema_decay")}
    (args.out / "run.json").write_text(json.dumps(meta))
    shutil.copy(args.run / "train.log", args.out / "train.log")


def restore(args: argparse.Namespace) -> None:
    from safetensors.torch import load_file

    checkpoint = args.run / "latest.pt"
    if checkpoint.exists():
        raise SystemExit(f"{checkpoint} exists: restore into a new run folder")
    state = json.loads((args.returned / "run.json").read_text())
    for name in STATE_PARTS:
        state[name] = {}
        for path in sorted(args.returned.glob(f"{name}-*.safetensors")):
            state[name].update(load_file(str(path)))
        if not state[name]:
            raise SystemExit(f"no {name}-*.safetensors in {args.returned}")
    args.run.mkdir(parents=True, exist_ok=True)
    save_run_state(checkpoint, state)
    shutil.copy(args.returned / "train.log", args.run / "train.log")
    print(f"run state at step {state['step']} in {checkpoint}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("pack", help="here: write burst/ for the device run")
    p.add_argument("--data", type=Path, default=Path.home() / ".cache/codec/image_train")
    p.add_argument("--out", type=Path, default=ROOT / "burst")
    p.add_argument("--holdout", type=int, default=3)
    p = commands.add_parser("unpack", help="device: burst/images -> .npy training images")
    p.add_argument("--burst", type=Path, default=ROOT / "burst")
    p.add_argument("--data", type=Path, required=True)
    p = commands.add_parser("collect", help="device: run state -> returnable files")
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p = commands.add_parser("restore", help="here: returned files -> run folder")
    p.add_argument("--returned", type=Path, required=True)
    p.add_argument("--run", type=Path, required=True)
    args = parser.parse_args()
    {"pack": pack, "unpack": unpack, "collect": collect, "restore": restore}[args.command](args)


if __name__ == "__main__":
    main()

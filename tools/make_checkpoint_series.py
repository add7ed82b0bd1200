"""A real training run's checkpoint series: a small CNN on MNIST training digits with Adam.

    python tools/make_checkpoint_series.py --out ~/.cache/codec/ckpt_series
        [--saves 12] [--save-every 100] [--lr 1e-3]

Writes ``ckpt_<step>.pt`` (model state, Adam state with exp_avg/exp_avg_sq, step, last loss)
every --save-every steps and ``losses.json`` (training loss per step). Batches depend only on
the step number, so ``resume(...)`` (used by tools/eval_checkpoint.py) continues a run from
any checkpoint -- original or decoded -- on exactly the batches the original run saw.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mnist_data import test_digits, training_digits  # noqa: E402

BATCH = 64
SEED = 0


def make_model() -> nn.Module:
    """About 110k parameters: two conv layers and two linear layers."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10),
    )  # fmt: skip


def batch(images: torch.Tensor, labels: torch.Tensor, step: int):
    """The batch of training step ``step`` (a function of the step only)."""
    rng = np.random.default_rng([SEED, step])
    index = torch.from_numpy(rng.choice(len(images), BATCH, replace=False))
    return images[index], labels[index]


def load_data(cache: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = training_digits(cache)
    x = torch.from_numpy(images).float().unsqueeze(1) / 255.0
    return x, torch.from_numpy(labels).long()


def train_steps(model, optimizer, data, first: int, count: int) -> list[float]:
    """Run steps first+1 .. first+count; returns their losses."""
    images, labels = data
    losses = []
    for step in range(first + 1, first + count + 1):
        x, y = batch(images, labels, step)
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def new_run(lr: float) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(SEED)
    model = make_model()
    return model, torch.optim.Adam(model.parameters(), lr=lr)


def resume(state: dict, data, steps: int, lr: float) -> tuple[nn.Module, list[float]]:
    """Continue from a checkpoint dict (as saved here) for ``steps`` steps."""
    model, optimizer = new_run(lr)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return model, train_steps(model, optimizer, data, int(state["step"]), steps)


@torch.no_grad()
def test_loss(model: nn.Module, count: int = 2000) -> float:
    """Cross-entropy on the first ``count`` t10k digits (evaluation only)."""
    images, labels = test_digits()
    x = torch.from_numpy(images[:count]).float().unsqueeze(1) / 255.0
    y = torch.from_numpy(labels[:count]).long()
    return nn.functional.cross_entropy(model(x), y).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/codec/mnist")
    parser.add_argument("--saves", type=int, default=12)
    parser.add_argument("--save-every", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    data = load_data(args.cache)
    model, optimizer = new_run(args.lr)
    losses: list[float] = []
    for save in range(1, args.saves + 1):
        losses += train_steps(model, optimizer, data, len(losses), args.save_every)
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": len(losses),
            "loss": losses[-1],
        }
        torch.save(state, args.out / f"ckpt_{len(losses):05d}.pt")
        print(f"save {save}: step {len(losses)} loss {np.mean(losses[-50:]):.4f}")
    (args.out / "losses.json").write_text(json.dumps({"lr": args.lr, "losses": losses}))


if __name__ == "__main__":
    main()

"""Sweep the weight of the image encoder's rate-distortion optimised rounding.

Encodes centre crops of training images (never Kodak) at every quality with plain rounding
(weight 0) and with each candidate weight of ``models.image.codec.rd_round``, and prints the
mean change of the rate level's objective, bits per pixel + lambda * MSE (0..255) of the
decoded 8-bit pixels, measured on the coded chunks, per quality and weight. The decoder is
the same for every weight (rounding is an encoder choice).

    python tools/tune_image_rounding.py --data ../shared/data/image/train --images 6
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def crops(folder: Path, count: int, size: int) -> list[tuple[str, np.ndarray]]:
    """(name, centre crop (size, size, 3) uint8) of ``count`` images spread over ``folder``."""
    from PIL import Image

    paths = sorted(folder.glob("*.png"))
    if not paths:
        raise SystemExit(f"no .png images in {folder}")
    chosen = [paths[i] for i in np.linspace(0, len(paths) - 1, min(count, len(paths))).astype(int)]
    out = []
    for path in chosen:
        image = np.asarray(Image.open(path).convert("RGB"))
        top, left = max(0, (image.shape[0] - size) // 2), max(0, (image.shape[1] - size) // 2)
        out.append((path.name, np.ascontiguousarray(image[top : top + size, left : left + size])))
    return out


def objective_changes(images: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """(9, len(weights)) mean relative change of the objective against plain rounding."""
    from tqdm import tqdm

    from models.image import codec

    model, _ = codec.load_model()
    changes = np.zeros((len(codec.QUALITIES), len(weights)))
    for image in tqdm(images, desc="images", unit="image"):
        x = codec.padded_input(image)
        for row, quality in enumerate(codec.QUALITIES):
            y = model.analysis(x, float(quality - 1))
            plain = codec.file_cost(model, *codec.code_latent(model, y, 0.0), image, quality)
            for column, weight in enumerate(weights):
                coded = codec.code_latent(model, y, weight)
                changes[row, column] += codec.file_cost(model, *coded, image, quality) / plain - 1
    return changes / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/image/train")
    parser.add_argument("--images", type=int, default=6, help="how many training images")
    parser.add_argument("--crop", type=int, default=512, help="centre crop side (pixels)")
    parser.add_argument("--weights", default="20,30,40,60,120", help="comma-separated")
    args = parser.parse_args()
    if "kodak" in str(args.data).lower():
        raise SystemExit("tune on training images, not on the Kodak evaluation set")
    import torch

    torch.set_num_threads(2)
    weights = [float(w) for w in args.weights.split(",")]
    named = crops(args.data, args.images, args.crop)
    print(f"images: {', '.join(name for name, _ in named)} ({args.crop}x{args.crop} crops)")
    changes = objective_changes([image for _, image in named], weights)
    print("| quality | " + " | ".join(f"weight {w:g}" for w in weights) + " |")
    print("|---|" + "---|" * len(weights))
    for quality, row in enumerate(changes, start=1):
        print(f"| {quality} | " + " | ".join(f"{100 * v:+.2f} %" for v in row) + " |")
    print("| mean | " + " | ".join(f"{100 * v:+.2f} %" for v in changes.mean(axis=0)) + " |")


if __name__ == "__main__":
    main()

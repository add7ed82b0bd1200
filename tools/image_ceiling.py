"""Transform ceiling of the image codec: how close each rate level comes to what its
transforms alone can reconstruct.

    python tools/image_ceiling.py --images ../shared/data/image/kodak [--weights W]

For every level in ``train_image.REPORT_LEVELS`` and every image (PNG or the training
cache's .npy, cropped to multiples of 64), it prints the averaged rate as coded (float
model, rounded latents), the PSNR as coded, and the *ceiling*: the PSNR of
g_s(g_a(x) * gain * inverse gain), the synthesis of the unquantized latent. No rate can
decode better than the ceiling, so a coded PSNR close to it means the transforms, not the
entropy model, limit that level (docs/image.md, "Transform ceiling"). Measuring on Kodak
is evaluation, not training: nothing here changes the weights.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.image.codec import WEIGHTS  # noqa: E402
from models.image.model import ImageModel  # noqa: E402
from tools.train_image import REPORT_LEVELS, held_out_rd  # noqa: E402


def read_images(folder: Path) -> list[np.ndarray]:
    """(H,W,3) uint8 RGB arrays of the .png and .npy files in ``folder``, sorted by name."""
    paths = sorted(p for p in folder.iterdir() if p.suffix in (".png", ".npy"))
    if not paths:
        raise SystemExit(f"no .png or .npy images in {folder}")
    return [
        np.load(p) if p.suffix == ".npy" else np.asarray(Image.open(p).convert("RGB"))
        for p in paths
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    network = ImageModel.load(args.weights).float_network()
    rows = held_out_rd(network, read_images(args.images))
    print("| level | bpp | PSNR dB | ceiling dB | ceiling - PSNR |")
    print("|---:|---:|---:|---:|---:|")
    for level, (bpp, psnr, ceiling) in zip(REPORT_LEVELS, rows, strict=True):
        print(f"| {level} | {bpp:.4f} | {psnr:.2f} | {ceiling:.2f} | {ceiling - psnr:.2f} |")


if __name__ == "__main__":
    main()

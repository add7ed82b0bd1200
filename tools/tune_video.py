"""Fitting knobs of the video nerv mode: learning rate x weight bits on the first frames of a
clip, one fit each; prints coded bytes and decoded PSNR.

    python tools/tune_video.py [--clip PATH] [--frames 30] [--quality 2] [--epochs 30]
                               [--lr 2e-3 4e-3] [--weight-bits 8 5]

Each setting fits the segment from scratch (models/video/fit.py with the module constants
overridden), packs it exactly as the codec does and decodes it with the codec's renderer;
PSNR-RGB is the mean over frames (dB), bytes the segment chunk's size. Used to choose
``LEARNING_RATE`` and ``WEIGHT_BITS``; the default clip is a training clip (Foreman), so
the choice is not made on the evaluation clips.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import models.video.fit as fit  # noqa: E402
from codec.media.video import open_input  # noqa: E402
from models.video.codec import QUALITIES  # noqa: E402
from models.video.quantize import pack_segment  # noqa: E402
from models.video.render import SegmentRenderer  # noqa: E402

FOREMAN = ROOT.parent / "shared" / "data" / "video" / "train" / "foreman_cif_300f.264"


def run(frames: np.ndarray, quality: int, epochs: int, lr: float, bits: int) -> dict:
    """One fit with learning rate ``lr`` and ``bits``-bit weights: bytes, PSNR, seconds."""
    fit.LEARNING_RATE, fit.WEIGHT_BITS = lr, bits
    start = time.perf_counter()
    fitted = fit.fit_segment(frames, QUALITIES[quality], epochs)
    chunk = pack_segment(fitted)
    renderer = SegmentRenderer(QUALITIES[quality], frames.shape[1], frames.shape[2])
    decoded = np.stack(list(renderer.frames(chunk, len(frames))))
    mse = ((decoded.astype(np.float64) - frames) ** 2).mean(axis=(1, 2, 3))
    psnr = float(np.mean(10 * np.log10(255**2 / np.maximum(mse, 1e-10))))
    return {"lr": lr, "weight_bits": bits, "bytes": len(chunk), "psnr_rgb": psnr,
            "seconds": time.perf_counter() - start}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", type=Path, default=FOREMAN)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--quality", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, nargs="+", default=[2e-3, 4e-3])
    parser.add_argument("--weight-bits", type=int, nargs="+", default=[8, 5])
    args = parser.parse_args()
    with open_input(args.clip) as video:
        frames = next(video.segments(args.frames))
    print(f"{args.clip.name}: {len(frames)} frames, quality {args.quality}, {args.epochs} epochs")
    for lr, bits in itertools.product(args.lr, args.weight_bits):
        print(json.dumps(run(frames, args.quality, args.epochs, lr, bits)), flush=True)


if __name__ == "__main__":
    main()

"""Decode time of the image codec with the integer networks' 3x3 layers on ``F.conv2d``
against the tap-wise matrix products they use (``models.image.gemm_conv.conv3x3``).

    python tools/bench_image_integer.py [--image PNG] [--quality 6] [--runs 5]

Encodes the image once, then decodes it ``--runs`` times with each form, interleaved, in
this one process (2 threads), checks that both give the same pixels (the integer networks
are exact either way) and prints a markdown table of the best time of each form.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import codec  # noqa: E402
from models.image import integer  # noqa: E402

KODIM01 = ROOT.parent / "shared" / "data" / "image" / "kodak" / "kodim01.png"


def conv2d_3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The previous form: torch's native convolution."""
    return F.conv2d(x, weight, bias, 1, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", type=Path, default=KODIM01)
    parser.add_argument("--quality", type=int, default=6)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(2)
    image = np.asarray(Image.open(args.image).convert("RGB"))
    blob = codec.encode(image, kind="image", quality=args.quality)
    forms = {"F.conv2d": conv2d_3x3, "gemm_conv.conv3x3": integer.conv3x3}
    times: dict[str, list[float]] = {name: [] for name in forms}
    outputs = {}
    for _ in range(args.runs):
        for name, form in forms.items():
            integer.conv3x3 = form
            start = time.perf_counter()
            outputs[name] = codec.decode(blob).media
            times[name].append(time.perf_counter() - start)
    integer.conv3x3 = forms["gemm_conv.conv3x3"]
    if not np.array_equal(*outputs.values()):
        raise SystemExit("the two forms decoded different pixels")
    h, w = image.shape[:2]
    print(f"{args.image.name} {w}x{h}, quality {args.quality}, best of {args.runs}, 2 threads")
    print("| integer 3x3 layers | decode s | vs F.conv2d |")
    print("|---|---:|---:|")
    base = min(times["F.conv2d"])
    for name, values in times.items():
        print(f"| {name} | {min(values):.3f} | {base / min(values):.2f}x |")


if __name__ == "__main__":
    main()

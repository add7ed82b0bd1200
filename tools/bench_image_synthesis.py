"""Time the image decoder's synthesis transform in its three forms, side by side in one process.

    python tools/bench_image_synthesis.py [--weights models/weights/image-v1.safetensors]
        [--image ../shared/data/image/kodak/kodim01.png] [--runs 5] [--threads 2]

Forms, all on torch's native (non-oneDNN) kernels as the decoder runs them: ``g_s`` as trained
(transposed convolutions), ``g_s`` with sub-pixel convolutions computed by ``F.conv2d``, and
the decoder's ``inference_synthesis`` (sub-pixel + tap-wise GEMM 3x3 convolutions and GEMM
bottleneck blocks). Prints the best-of-``runs`` seconds of each form (runs interleaved) and the
largest difference of its output from the trained form.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from models.image.model import ImageModel
from models.image.subpixel import SubpixelConv, has_subpixel_form, inference_synthesis

ROOT = Path(__file__).resolve().parent.parent


class ConvSubpixel(SubpixelConv):
    """Sub-pixel layer computed by ``F.conv2d`` (the decoder's form before the GEMM kernels)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.conv2d(x, self.weight, self.bias, padding=1)
        return nn.functional.pixel_shuffle(y, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--weights", type=Path, default=ROOT / "models/weights/image-v1.safetensors"
    )
    kodim01 = ROOT.parent / "shared/data/image/kodak/kodim01.png"
    parser.add_argument("--image", type=Path, default=kodim01)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = ImageModel.load(args.weights)
    g_s = model.network.g_s
    forms = {
        "transposed": g_s,
        "subpixel, F.conv2d": nn.Sequential(
            *(ConvSubpixel(layer) if has_subpixel_form(layer) else layer for layer in g_s)
        ),
        "inference_synthesis": inference_synthesis(g_s),
    }
    pixels = np.asarray(Image.open(args.image).convert("RGB"))
    x = torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].float() / 255
    h, w = (s // 64 * 64 for s in x.shape[2:])
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
        y = torch.round(model.network.g_a(x[..., :h, :w]))
        outputs = {name: form(y) for name, form in forms.items()}
        best = dict.fromkeys(forms, float("inf"))
        for _ in range(args.runs):
            for name, form in forms.items():
                start = time.perf_counter()
                form(y)
                best[name] = min(best[name], time.perf_counter() - start)
    print(f"{args.weights.name}: {h}x{w} output, {args.threads} threads, best of {args.runs}")
    for name in forms:
        diff = (outputs[name] - outputs["transposed"]).abs().max().item()
        ratio = best["transposed"] / best[name]
        print(f"{name:22s} {best[name]:.3f} s  {ratio:.2f}x  max |diff| {diff:.2e}")


if __name__ == "__main__":
    main()

"""Time one training step of the image network with float32 and with bfloat16 transforms.

    python tools/bench_image_training.py [--threads 2] [--repeats 4]

One step = forward of a batch of 8 random 128x128 crops of the bundled photo at random rate
levels + backward of the training loss (tools/train_image.py, without the optimizer), with
the shipped weights. The two precisions alternate in the same process (``--repeats`` rounds
of 4 steps each), so machine noise hits both alike; prints the median seconds per step and
the ratio. bf16 pays off on CPUs with bf16 matrix units (AMX-BF16, AVX512-BF16) and GPUs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from models.image.codec import WEIGHTS  # noqa: E402
from models.image.model import ImageModel  # noqa: E402
from models.image.network import LAMBDAS  # noqa: E402
from tools.train_image import random_batch, rd_terms  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    net = ImageModel.load(WEIGHTS).float_network().train().requires_grad_(True)
    photo = np.asarray(Image.open(ROOT / "samples" / "seeding_384x256.png").convert("RGB"))
    rng = random.Random(0)
    lambdas = torch.tensor(LAMBDAS)

    def step() -> None:
        x = random_batch([photo], 8, 128, rng)
        levels = torch.randint(0, len(LAMBDAS), (8,))
        bpp, mse = rd_terms(net(x, levels.float()), x)
        (bpp + lambdas[levels] * 255**2 * mse).mean().backward()
        net.zero_grad(set_to_none=True)

    seconds: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeats):
        for bf16 in (False, True):
            net.bf16_transforms = bf16
            step()  # warm-up of this precision's kernels
            start = time.perf_counter()
            for _ in range(4):
                step()
            seconds[bf16].append((time.perf_counter() - start) / 4)
    fp32, bf16 = statistics.median(seconds[False]), statistics.median(seconds[True])
    print(f"threads {args.threads}, batch 8 x 128x128, median of {args.repeats} rounds")
    print(f"float32 transforms:  {fp32:.3f} s/step")
    print(f"bfloat16 transforms: {bf16:.3f} s/step  ({fp32 / bf16:.2f}x faster)")


if __name__ == "__main__":
    main()

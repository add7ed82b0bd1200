"""Benchmark the Triton sum-layer kernel against its torch reference on the same inputs.

    python tools/bench_kernels.py [--batch 512] [--groups 784] [--k 32] [--repeats 20]

Needs a CUDA GPU (the kernel's purpose); on a CPU-only machine it says so and exits. Shapes
default to one HCLT layer over MNIST: 784 groups of k x k transitions.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kernels.sum_layer import sum_layer_reference  # noqa: E402


def timed(fn, repeats: int) -> float:
    fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--groups", type=int, default=784)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: the kernel benchmark needs a GPU")
    from kernels.sum_layer_triton import sum_layer_triton

    torch.manual_seed(0)
    x = torch.randn(args.batch, args.groups, args.k, device="cuda")
    w = torch.log_softmax(torch.randn(args.groups, args.k, args.k, device="cuda"), dim=-1)
    error = (sum_layer_triton(x, w) - sum_layer_reference(x, w)).abs().max().item()
    kernel = timed(lambda: sum_layer_triton(x, w), args.repeats)
    reference = timed(lambda: sum_layer_reference(x, w), args.repeats)
    print(f"{torch.cuda.get_device_name()}: B={args.batch} G={args.groups} k={args.k}")
    print("| implementation | ms per call | speed-up |\n|---|---:|---:|")
    print(f"| torch reference | {reference * 1e3:.3f} | 1.00x |")
    print(f"| Triton kernel | {kernel * 1e3:.3f} | {reference / kernel:.2f}x |")
    print(f"max |difference| (log space): {error:.2e}")


if __name__ == "__main__":
    main()

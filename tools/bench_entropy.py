"""Entropy-layer benchmark with CompressAI's GaussianConditional (rANS) side by side.

    python tools/bench_entropy.py [--symbols 1000000] [--seed 0] [--repeats 3]

Prints markdown tables for docs/RESULTS.md:
1. every family of our layer on both streams (codec.bench);
2. the Gaussian workload (1e6 symbols, means U[-20,20], stds log-uniform [0.3,20]) coded by
   ours and by CompressAI 1.2.8 on the same symbols in the same process: bits/symbol,
   overhead over the ideal information content, encode and decode Msym/s (best of N runs,
   including scale-index computation), and the ratios ours/CompressAI.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy import stats

from codec.bench import format_table, run_entropy_benchmark, scale_workload
from entropy import IndexedGaussian, StreamKind, SymbolDecoder, SymbolEncoder


def ideal_bits(q: np.ndarray, stds: np.ndarray) -> float:
    a = np.abs(q)
    sf = stats.norm(scale=stds).sf
    return float(-np.log2(sf(a - 0.5) - sf(a + 0.5)).sum())


def best_of(repeats: int, fn):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def bench_ours(y, means, stds, repeats):
    family = IndexedGaussian()
    q = np.round(y - means).astype(np.int64)

    def encode():
        encoder = SymbolEncoder(StreamKind.ANS)
        family.encode(encoder, q, family.scale_index(stds))
        return encoder.to_bytes()

    t_enc, data = best_of(repeats, encode)

    def decode():
        decoder = SymbolDecoder(data, StreamKind.ANS)
        out = family.decode(decoder, family.scale_index(stds))
        decoder.finish()
        return out

    t_dec, out = best_of(repeats, decode)
    assert np.array_equal(out, q)
    return 8 * len(data), t_enc, t_dec


def bench_compressai(y, means, stds, repeats):
    from compressai.entropy_models import GaussianConditional
    from compressai.models.google import get_scale_table

    model = GaussianConditional(None)
    model.update_scale_table(get_scale_table())
    model.update()
    shape = (1, 1, 1, y.size)
    y_t, m_t, s_t = (torch.tensor(a, dtype=torch.float32).view(shape) for a in (y, means, stds))

    def encode():
        return model.compress(y_t, model.build_indexes(s_t), means=m_t)

    t_enc, strings = best_of(repeats, encode)

    def decode():
        return model.decompress(strings, model.build_indexes(s_t), means=m_t)

    t_dec, out = best_of(repeats, decode)
    q = torch.round(y_t - m_t)
    assert torch.equal(out - m_t, q) or torch.allclose(out, q + m_t)
    return 8 * len(strings[0]), t_enc, t_dec, q.numpy().reshape(-1).astype(np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.symbols

    print(f"## Entropy layer, every family ({n:,} symbols, best of {args.repeats})\n")
    print(format_table(run_entropy_benchmark(n, args.seed, args.repeats)))

    y, means, stds = scale_workload("gaussian", n, args.seed)
    ours_bits, ours_enc, ours_dec = bench_ours(y, means, stds, args.repeats)
    cai_bits, cai_enc, cai_dec, cai_q = bench_compressai(y, means, stds, args.repeats)
    q = np.round(y - means).astype(np.int64)
    ideal = ideal_bits(q, stds)
    ideal_cai = ideal_bits(cai_q, stds)  # float32 rounding may differ on a few symbols

    print(f"\n## Gaussian conditional: ours vs CompressAI 1.2.8 ({n:,} symbols, same data)\n")
    print("| coder | bits/symbol | overhead vs ideal | encode Msym/s | decode Msym/s |")
    print("|---|---:|---:|---:|---:|")
    for name, bits, ideal_b, t_enc, t_dec in (
        ("ours (ANS, 160 scales, 16-bit tables)", ours_bits, ideal, ours_enc, ours_dec),
        ("CompressAI rANS (64 scales)", cai_bits, ideal_cai, cai_enc, cai_dec),
    ):
        print(
            f"| {name} | {bits / n:.5f} | {100 * (bits / ideal_b - 1):+.4f}% | "
            f"{n / t_enc / 1e6:.2f} | {n / t_dec / 1e6:.2f} |"
        )
    print(
        f"\nRatios ours/CompressAI: size {ours_bits / cai_bits:.4f}, "
        f"encode speed {cai_enc / ours_enc:.2f}x, decode speed {cai_dec / ours_dec:.2f}x "
        f"(torch threads: {torch.get_num_threads()})"
    )


if __name__ == "__main__":
    main()

"""Entropy-layer benchmark behind ``codec bench`` and tools/bench_entropy.py.

For every distribution family, symbols are drawn from a known source distribution, coded with
a real stream, decoded and checked; the report gives bits per symbol, the overhead over the
ideal information content (-log2 of the *source* probabilities, so table quantization, scale
rounding and model learning all count as overhead) and encode/decode throughput (best of
``repeats`` runs, including index computation and grouping).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from entropy import (
    AdaptiveContextModel,
    CategoricalRows,
    IndexedFamily,
    IndexedGaussian,
    IndexedLaplace,
    StreamKind,
    SymbolDecoder,
    SymbolEncoder,
    TableSet,
    quantize_probabilities,
)


@dataclass(frozen=True)
class BenchRow:
    """One family on one stream: sizes in bits, throughput in millions of symbols per second."""

    family: str
    stream: str
    symbols: int
    bits: int
    ideal_bits: float
    source_bits: float
    encode_msym_s: float
    decode_msym_s: float

    @property
    def bits_per_symbol(self) -> float:
        return self.bits / self.symbols

    @property
    def overhead_percent(self) -> float:
        return 100.0 * (self.bits / self.ideal_bits - 1.0)

    @property
    def source_overhead_percent(self) -> float:
        return 100.0 * (self.bits / self.source_bits - 1.0)


@dataclass
class _Case:
    name: str
    symbols: np.ndarray
    ideal_bits: float
    encode: Callable[[SymbolEncoder], None]
    decode: Callable[[SymbolDecoder], np.ndarray]
    source_bits: float | None = None  # -log2 source probabilities, when ideal differs


def _discrete_information(cdf: Callable[[np.ndarray], np.ndarray], q: np.ndarray) -> float:
    """Sum of -log2 P(round(X) = q) for a symmetric zero-mean law given by its survival fn."""
    a = np.abs(q)
    p = cdf(a - 0.5) - cdf(a + 0.5)
    return float(-np.log2(p).sum())


def scale_workload(law: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y ~ law(mean, std) with means U[-20,20] and stds log-uniform in [0.3, 20].

    Returns (y, means, stds), each (n,) float64; ``law`` is "gaussian" or "laplace".
    """
    rng = np.random.default_rng(seed)
    means = rng.uniform(-20, 20, n)
    stds = np.exp(rng.uniform(np.log(0.3), np.log(20), n))
    if law == "gaussian":
        return rng.normal(means, stds), means, stds
    return rng.laplace(means, stds / np.sqrt(2)), means, stds


def _scale_case(name: str, family: IndexedFamily, law: str, n: int, seed: int) -> _Case:
    y, means, stds = scale_workload(law, n, seed)
    if law == "gaussian":
        survival = stats.norm(scale=stds).sf
    else:
        survival = stats.laplace(scale=stds / np.sqrt(2)).sf
    q = np.round(y - means).astype(np.int64)
    ideal = _discrete_information(survival, q)

    def encode(enc: SymbolEncoder) -> None:
        family.encode(enc, q, family.scale_index(stds))

    def decode(dec: SymbolDecoder) -> np.ndarray:
        return family.decode(dec, family.scale_index(stds))

    return _Case(name, q, ideal, encode, decode)


def _factorized_case(n: int, rng) -> _Case:
    """192 channels, each a discretized logistic mixture (like a learned hyper-latent prior)."""
    channels, support = 192, np.arange(-40, 41)
    pmfs = []
    for _ in range(channels):
        locs, scales = rng.normal(0, 3, 3), rng.uniform(0.3, 4, 3)
        weights = rng.dirichlet(np.ones(3))
        upper = stats.logistic.cdf(support[:, None] + 0.5, locs, scales)
        lower = stats.logistic.cdf(support[:, None] - 0.5, locs, scales)
        pmfs.append(((upper - lower) * weights).sum(axis=1))
    pmfs = np.array(pmfs)
    pmfs /= pmfs.sum(axis=1, keepdims=True)
    tables = TableSet.from_probabilities(
        list(pmfs), np.full(channels, support[0]), np.full(channels, 1e-9), name="bench"
    )
    family = IndexedFamily(tables)
    channel = rng.integers(0, channels, n)
    cumulative = np.cumsum(pmfs, axis=1)
    draw = (rng.random(n)[:, None] > cumulative[channel]).sum(axis=1)
    draw = np.minimum(draw, support.size - 1)
    q = support[draw]
    ideal = float(-np.log2(pmfs[channel, draw]).sum())
    return _Case(
        "factorized tables",
        q,
        ideal,
        lambda enc: family.encode(enc, q, channel),
        lambda dec: family.decode(dec, channel),
    )


def _categorical_case(n: int, rng) -> _Case:
    """Per-symbol probability rows over 32 values (Dirichlet(0.5) draws)."""
    probs = rng.dirichlet(np.full(32, 0.5), n)
    symbols = (rng.random(n)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    symbols = np.minimum(symbols, 31)
    ideal = float(-np.log2(probs[np.arange(n), symbols]).sum())
    family = CategoricalRows()

    def encode(enc: SymbolEncoder) -> None:
        family.encode(enc, symbols, quantize_probabilities(probs))

    def decode(dec: SymbolDecoder) -> np.ndarray:
        return family.decode(dec, quantize_probabilities(probs))

    return _Case("categorical rows", symbols, ideal, encode, decode)


def sequential_kt_bits(symbols: np.ndarray, contexts: np.ndarray, n_ctx: int, k: int) -> float:
    """Information content under the Krichevsky-Trofimov estimator per context: the ideal for
    a model that learns the distribution from the data it codes (closed form via lgamma)."""
    counts = np.zeros((n_ctx, k))
    np.add.at(counts, (contexts, symbols), 1)
    nats = (
        special.gammaln(counts.sum(1) + k / 2).sum()
        - n_ctx * special.gammaln(k / 2)
        - (special.gammaln(counts + 0.5) - special.gammaln(0.5)).sum()
    )
    return float(nats / np.log(2))


def _adaptive_case(n: int, rng) -> _Case:
    """16 contexts x 32 symbols, stationary source; the model starts from flat counts.

    The ideal is the sequential KT estimate; the source's own information content (out of
    reach for any model that must learn the distribution) is reported beside it."""
    n_ctx, k = 16, 32
    truth = rng.dirichlet(np.full(k, 0.5), n_ctx)
    contexts = rng.integers(0, n_ctx, n)
    symbols = (rng.random(n)[:, None] > np.cumsum(truth[contexts], axis=1)).sum(axis=1)
    symbols = np.minimum(symbols, k - 1)
    ideal = sequential_kt_bits(symbols, contexts, n_ctx, k)
    return _Case(
        "adaptive context",
        symbols,
        ideal,
        lambda enc: AdaptiveContextModel(n_ctx, k).encode(enc, symbols, contexts),
        lambda dec: AdaptiveContextModel(n_ctx, k).decode(dec, n, contexts),
        float(-np.log2(truth[contexts, symbols]).sum()),
    )


def _measure(case: _Case, stream: StreamKind, repeats: int) -> BenchRow:
    encode_times, decode_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        encoder = SymbolEncoder(stream)
        case.encode(encoder)
        data = encoder.to_bytes()
        encode_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        decoder = SymbolDecoder(data, stream)
        decoded = case.decode(decoder)
        decoder.finish()
        decode_times.append(time.perf_counter() - start)
        if not np.array_equal(decoded.reshape(-1), case.symbols.reshape(-1)):
            raise AssertionError(f"{case.name}/{stream.value}: round trip failed")
    n = case.symbols.size
    return BenchRow(
        case.name,
        stream.value,
        n,
        8 * len(data),
        case.ideal_bits,
        case.ideal_bits if case.source_bits is None else case.source_bits,
        n / min(encode_times) / 1e6,
        n / min(decode_times) / 1e6,
    )


def run_entropy_benchmark(n: int = 1_000_000, seed: int = 0, repeats: int = 3) -> list[BenchRow]:
    """Benchmark every family on both streams; raises if any round trip fails."""
    rng = np.random.default_rng(seed)
    cases = [
        _scale_case("gaussian (scale index)", IndexedGaussian(), "gaussian", n, seed),
        _scale_case("laplace (scale index)", IndexedLaplace(), "laplace", n, seed),
        _factorized_case(n, rng),
        _categorical_case(n, rng),
        _adaptive_case(n, rng),
    ]
    return [_measure(case, stream, repeats) for case in cases for stream in StreamKind]


def format_table(rows: list[BenchRow]) -> str:
    """Markdown table of benchmark rows."""
    lines = [
        "| family | stream | symbols | bits/symbol | ideal bits/symbol | overhead | "
        "vs source | encode Msym/s | decode Msym/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.family} | {r.stream} | {r.symbols:,} | {r.bits_per_symbol:.5f} | "
            f"{r.ideal_bits / r.symbols:.5f} | {r.overhead_percent:+.4f}% | "
            f"{r.source_overhead_percent:+.4f}% | {r.encode_msym_s:.2f} | {r.decode_msym_s:.2f} |"
        )
    return "\n".join(lines)

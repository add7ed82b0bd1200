"""Bjontegaard delta rate (BD-rate) shared by the evaluation tools (eval_image, eval_video).

``bd_rate`` interpolates log-rate as a function of distortion (PCHIP, monotone) and averages
the difference over the distortion interval that both curves cover; it never extrapolates:
with no overlap (or fewer than two distinct points on a curve) the result is NaN.
``overlap`` gives that interval, so that a report can say how much of each curve a BD-rate
describes. ``rate_ratio`` says where along the curve a BD-rate comes from: per point of A,
its rate over the rate B needs for the same distortion. ``msssim_db`` turns MS-SSIM into dB
(-10 log10(1 - MS-SSIM)), the usual axis for BD-rates on MS-SSIM.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.integrate import trapezoid
from scipy.interpolate import PchipInterpolator


def _curve(rate: Sequence[float], dist: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(distortion sorted ascending, log-rate) with repeated distortions dropped."""
    order = np.argsort(dist)
    d, r = np.asarray(dist)[order], np.log(np.asarray(rate)[order])
    keep = np.concatenate([[True], np.diff(d) > 1e-9])
    return d[keep], r[keep]


def overlap(dist_a: Sequence[float], dist_b: Sequence[float]) -> tuple[float, float]:
    """(low, high) of the distortion interval both curves cover (same unit as the inputs,
    e.g. dB); high <= low when the ranges do not overlap."""
    low = max(float(np.min(dist_a)), float(np.min(dist_b)))
    return low, min(float(np.max(dist_a)), float(np.max(dist_b)))


def bd_rate(
    rate_a: Sequence[float],
    dist_a: Sequence[float],
    rate_b: Sequence[float],
    dist_b: Sequence[float],
) -> float:
    """Bjontegaard delta rate of A relative to B in percent (negative: A saves bits);
    piecewise-cubic interpolation of log-rate over the overlapping distortion range.
    Rates in any positive unit (bpp, kbps: the same for A and B), distortions in any unit
    where higher is better (PSNR dB, MS-SSIM dB). NaN when the ranges do not overlap."""
    da, ra = _curve(rate_a, dist_a)
    db, rb = _curve(rate_b, dist_b)
    low, high = overlap(da, db)
    if high <= low or len(da) < 2 or len(db) < 2:
        return float("nan")
    grid = np.linspace(low, high, 200)
    diff = PchipInterpolator(da, ra)(grid) - PchipInterpolator(db, rb)(grid)
    return float((np.exp(trapezoid(diff, grid) / (high - low)) - 1) * 100)


def rate_ratio(
    rate_a: Sequence[float],
    dist_a: Sequence[float],
    rate_b: Sequence[float],
    dist_b: Sequence[float],
) -> np.ndarray:
    """For each point of A: its rate / B's rate at the same distortion (B's log-rate
    interpolated as in :func:`bd_rate`), shape (len(rate_a),); NaN where the point lies
    outside B's distortion range (no extrapolation) or B has fewer than two points."""
    db, rb = _curve(rate_b, dist_b)
    dist_a = np.asarray(dist_a, dtype=np.float64)
    ratios = np.full(dist_a.shape, np.nan)
    if len(db) < 2:
        return ratios
    inside = (dist_a >= db[0]) & (dist_a <= db[-1])
    b_rate = np.exp(PchipInterpolator(db, rb)(dist_a[inside]))
    ratios[inside] = np.asarray(rate_a, dtype=np.float64)[inside] / b_rate
    return ratios


def msssim_db(values: Sequence[float]) -> np.ndarray:
    """MS-SSIM (0..1) -> dB, -10 log10(1 - MS-SSIM), capped at 100 dB."""
    return -10 * np.log10(1 - np.minimum(np.asarray(values), 1 - 1e-10))

"""BD-rate and per-point rate ratios (tools/bd_rate.py) on curves with known answers."""

import math

import numpy as np

from tools.bd_rate import bd_rate, overlap, rate_ratio

RATE = [0.1, 0.2, 0.4, 0.8, 1.6]
PSNR = [26.0, 28.5, 31.0, 33.0, 35.0]


def test_a_curve_scaled_in_rate_gives_that_scale():
    smaller = [0.8 * r for r in RATE]
    assert math.isclose(bd_rate(smaller, PSNR, RATE, PSNR), -20.0, abs_tol=1e-9)
    assert math.isclose(bd_rate(RATE, PSNR, smaller, PSNR), 25.0, abs_tol=1e-9)
    np.testing.assert_allclose(rate_ratio(smaller, PSNR, RATE, PSNR), 0.8)


def test_only_the_shared_distortion_range_counts():
    shifted = [p + 4.0 for p in PSNR]  # covers 30..39 dB: overlap 30..35 dB with PSNR
    assert overlap(PSNR, shifted) == (30.0, 35.0)
    ratios = rate_ratio(RATE, PSNR, RATE, shifted)
    assert np.isnan(ratios[:2]).all() and not np.isnan(ratios[2:]).any()
    assert math.isclose(ratios[-1], 1.6 / 0.4)  # 35 dB: a point of the reference
    assert 0.4 / 0.2 < ratios[2] < 0.4 / 0.1  # 31 dB: between its 30 and 32.5 dB points


def test_curves_that_do_not_overlap_give_nan():
    far = [p + 20.0 for p in PSNR]
    assert math.isnan(bd_rate(RATE, PSNR, RATE, far))
    assert np.isnan(rate_ratio(RATE, PSNR, RATE, far)).all()
    assert np.isnan(rate_ratio(RATE, PSNR, [0.5], [30.0])).all()  # one point is no curve

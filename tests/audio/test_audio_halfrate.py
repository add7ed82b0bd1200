"""The side channel's 12 kHz path: streaming filters and the mid/side alignment around them."""

from __future__ import annotations

import numpy as np

from models.audio.codec import _dropped, _mid_delayed
from models.audio.halfrate import DELAY, Decimator, Interpolator
from models.audio.streaming import rechunk

RATE = 24000


def tone(hz: float, n: int) -> np.ndarray:
    return np.sin(2 * np.pi * hz * np.arange(n) / RATE).astype(np.float32)


def through(x: np.ndarray, cuts: list[int]) -> np.ndarray:
    """Decimate then interpolate ``x``, fed in pieces cut at ``cuts``."""
    decimate, interpolate = Decimator(), Interpolator()
    return np.concatenate([interpolate(decimate(p)) for p in np.split(x, cuts)])


def test_pieces_give_the_output_of_the_whole_signal():
    x = np.random.default_rng(0).standard_normal(9001).astype(np.float32)
    whole = through(x, [])
    # an odd first piece shifts the decimator's phase; the interpolator sees other pieces
    assert np.array_equal(through(x, [1, 2, 4001, 6000]), whole)
    assert np.array_equal(through(x, [3000, 6000]), whole)


def test_low_band_passes_delayed_and_high_band_is_removed():
    n = 4800
    low = through(tone(1000, n), [])
    assert np.abs(low[DELAY + 100 :] - tone(1000, n)[100 : n - DELAY]).max() < 1e-3
    high = through(tone(9000, n), [])
    assert np.abs(high[DELAY + 100 :]).max() < 1e-3  # above 6 kHz: stop band


def test_mid_and_side_come_back_aligned():
    """The mid delayed as much as the side's filters, then the decoder's drop: both land
    on the input's samples (side low-passed), whatever the segment size."""
    n = 5000
    mid, side = tone(440, n), tone(1500, n)
    coded = np.concatenate(
        list(_mid_delayed(iter(np.split(np.stack([mid, side]), [777], 1)), DELAY)), 1
    )
    assert coded.shape == (2, n + DELAY)
    decimate, interpolate = Decimator(), Interpolator()
    decoded = []
    for segment in rechunk(iter([coded]), 1280):
        side_12k = decimate(segment[1])
        side_24k = interpolate(side_12k)[: segment.shape[1]]
        decoded.append(np.stack([segment[0], side_24k]))
    out = np.concatenate(list(_dropped(iter(decoded), DELAY)), 1)
    assert out.shape == (2, n)
    assert np.array_equal(out[0], mid)
    assert np.abs(out[1, 100:-100] - side[100:-100]).max() < 1e-3  # edges: the cut tone rings

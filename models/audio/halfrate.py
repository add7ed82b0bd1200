"""Streaming 2x decimation and interpolation of the side channel (24 kHz <-> 12 kHz).

Both are causal: one linear-phase half-band low-pass (Kaiser-windowed sinc, ``2 * HALF + 1``
taps, cut-off 6 kHz, pass band flat to ~5 kHz, stop band from ~7 kHz at about -80 dB), each
stage delays by ``HALF`` samples at 24 kHz, so a decimated-then-interpolated signal comes
back ``DELAY = 2 * HALF`` samples late. Each object keeps the last ``2 * HALF`` input samples
(zero at the start), so feeding a signal in any pieces gives exactly the output of feeding
it at once. Filtering runs in float64; inputs and outputs are float32 arrays of shape (n,).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

HALF = 23
DELAY = 2 * HALF


def _half_band_taps() -> np.ndarray:
    n = np.arange(-HALF, HALF + 1)
    taps = 0.5 * np.sinc(n / 2) * np.kaiser(2 * HALF + 1, 8.0)
    return taps / taps.sum()


TAPS = _half_band_taps()  # symmetric, so convolution and correlation agree


class _Filter:
    """The low-pass over a stream: history of the last 2 * HALF samples."""

    def __init__(self) -> None:
        self.history = np.zeros(2 * HALF)

    def windows(self, x: np.ndarray) -> np.ndarray:
        """(len(x), 2 * HALF + 1) read-only view: row i ends at x[i]."""
        joined = np.concatenate([self.history, x.astype(np.float64)])
        self.history = joined[len(joined) - 2 * HALF :]
        if not len(x):
            return np.zeros((0, 2 * HALF + 1))
        return sliding_window_view(joined, 2 * HALF + 1)


class Decimator(_Filter):
    """(n,) samples at 24 kHz -> low-passed samples at 12 kHz: output k is the filtered
    input at stream index 2k (so a call on an odd number of samples shifts the next call's
    phase; the codec only ever makes the last call odd)."""

    def __init__(self) -> None:
        super().__init__()
        self.consumed = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        first = self.consumed % 2
        self.consumed += len(x)
        return (self.windows(x)[first::2] @ TAPS).astype(np.float32)


class Interpolator(_Filter):
    """(m,) samples at 12 kHz -> (2m,) at 24 kHz: zeros between the samples, low-pass,
    gain 2."""

    def __call__(self, y: np.ndarray) -> np.ndarray:
        stuffed = np.zeros(2 * len(y))
        stuffed[::2] = y
        return (self.windows(stuffed) @ (2 * TAPS)).astype(np.float32)

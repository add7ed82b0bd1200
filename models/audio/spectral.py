"""Multi-scale mel spectrogram distance: the audio codec's training loss and an eval metric.

Waveforms are (B, T) or (B, 1, T) float tensors at 24 kHz. For each window size w in
``WINDOWS`` (32 ... 2048 samples, hop w/4, Hann) the magnitude STFT is projected on
``w / 8`` mel bands (at least 5; Slaney-style triangles on the HTK mel scale) and compared as
L1 of log10 magnitudes (floored at 1e-5) plus L1 of magnitudes; the distance is the mean over
scales. The same definition as DAC's mel loss, written for this package.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

WINDOWS = (32, 64, 128, 256, 512, 1024, 2048)
FLOOR = 1e-5


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


@functools.cache
def mel_matrix(window: int, bands: int, rate: int) -> torch.Tensor:
    """(bands, window // 2 + 1) triangular filters, each normalised to unit area."""
    freqs = np.linspace(0.0, rate / 2, window // 2 + 1)
    edges = _mel_to_hz(np.linspace(0.0, _hz_to_mel(np.array(rate / 2)), bands + 2))
    lower = (freqs[None, :] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None])
    upper = (edges[2:, None] - freqs[None, :]) / (edges[2:, None] - edges[1:-1, None])
    filters = np.maximum(0.0, np.minimum(lower, upper))
    filters *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return torch.from_numpy(filters.astype(np.float32))


def mel_spectrogram(wave: torch.Tensor, window: int, rate: int = 24000) -> torch.Tensor:
    """(B, T) -> (B, bands, frames) mel magnitudes at one scale."""
    spec = torch.stft(
        wave,
        n_fft=window,
        hop_length=window // 4,
        window=torch.hann_window(window, device=wave.device),
        return_complex=True,
    ).abs()
    bands = max(5, window // 8)
    return mel_matrix(window, bands, rate).to(wave.device) @ spec


def mel_distance(estimate: torch.Tensor, target: torch.Tensor, rate: int = 24000) -> torch.Tensor:
    """Multi-scale mel distance (scalar tensor, differentiable), see the module docstring."""
    estimate = estimate.reshape(-1, estimate.shape[-1])
    target = target.reshape(-1, target.shape[-1])
    total = estimate.new_zeros(())
    windows = [w for w in WINDOWS if w <= target.shape[-1]]
    for window in windows:
        a = mel_spectrogram(estimate, window, rate)
        b = mel_spectrogram(target, window, rate)
        log_term = (a.clamp_min(FLOOR).log10() - b.clamp_min(FLOOR).log10()).abs().mean()
        total = total + log_term + (a - b).abs().mean()
    return total / max(1, len(windows))

"""Pixel prediction for the patch model: MED (median edge detector, LOCO-I / JPEG-LS).

Each pixel is predicted from its left (a), upper (b) and upper-left (c) neighbours (0 outside
the plane): min(a, b) if c >= max(a, b), max(a, b) if c <= min(a, b), else a + b - c. The
patch circuit codes residuals ``x - prediction mod 256``, so every patch sees the pixels
just outside its top and left borders. The forward transform is vectorised over the plane;
the inverse runs over anti-diagonals (a pixel depends only on the previous two diagonals).
"""

from __future__ import annotations

import numpy as np


def _med(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    low, high = np.minimum(a, b), np.maximum(a, b)
    return np.where(c >= high, low, np.where(c <= low, high, a + b - c))


def residuals(plane: np.ndarray) -> np.ndarray:
    """(H, W) uint8 -> (H, W) uint8 prediction residuals mod 256."""
    x = plane.astype(np.int16)
    padded = np.pad(x, ((1, 0), (1, 0)))
    prediction = _med(padded[1:, :-1], padded[:-1, 1:], padded[:-1, :-1])
    return ((x - prediction) & 255).astype(np.uint8)


def reconstruct(residual: np.ndarray) -> np.ndarray:
    """Inverse of :func:`residuals`."""
    h, w = residual.shape
    padded = np.zeros((h + 1, w + 1), dtype=np.int16)
    r = residual.astype(np.int16)
    for diagonal in range(h + w - 1):
        i = np.arange(max(0, diagonal - w + 1), min(h, diagonal + 1))
        j = diagonal - i
        prediction = _med(padded[i + 1, j], padded[i, j + 1], padded[i, j])
        padded[i + 1, j + 1] = (r[i, j] + prediction) & 255
    return padded[1:, 1:].astype(np.uint8)

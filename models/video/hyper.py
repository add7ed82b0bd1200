"""Hyper mode of the video codec: segments of ``FRAMES`` frames coded as the integers of
their per-tubelet hyponet weights (models/video/hyper_network.py), predicted by the shipped
hypernetwork and optionally refined on the content.

Encoder (:class:`SegmentCoder`): frames padded to ``FRAMES`` frames (last frame repeated)
and to multiples of ``PATCH`` pixels (edge replicated); the hypernetwork predicts the weights
for the quality's quantization ``step``; ``refine`` Adam steps then fine-tune them through
the rounding (straight-through) on the training loss, MSE over the real pixels of one frame
per step (in turn) + bits weighted by step**2 / LAM_UNIT; the weights are rounded to integers
(units of ``step``).

Chunk: a kind byte (KEY: the integers; RESIDUAL: their difference to the previous segment's,
``from_prev``), then :func:`encode_groups` of ``GROUPS`` integer groups: the grid by DCT
term, the film by layer and scale/shift. A non-key segment is coded as a residual only when
that is smaller. Decoder (:class:`SegmentRenderer`): integers x step -> the shared hyponet,
one frame per one-thread worker (models/threads.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from codec.errors import BitstreamError
from entropy import SymbolDecoder, SymbolEncoder
from models.threads import run_single_threaded
from models.video.fit import padded_size, to_tensor
from models.video.hyper_network import (
    CELL,
    FRAMES,
    PATCH,
    HyperConfig,
    coding_groups,
    rate_bits,
    round_straight_through,
)
from models.video.quantize import KEY, RESIDUAL, encode_group, laplace_family

LAM_UNIT = 512.0  # the training trade-off: lam = LAM_UNIT / step**2 (tools/train_video_hyper.py)
REFINE_LEARNING_RATE = 0.1  # Adam, on weights in step units
MAX_INTEGER = 1 << 20  # bitstream check of decoded magnitudes


def to_segment(frames: np.ndarray) -> torch.Tensor:
    """(n <= FRAMES, H, W, 3) uint8 -> (1, FRAMES, 3, Hp, Wp) in [0, 1], padded in time (last
    frame repeated) and space (edges replicated to multiples of PATCH)."""
    x = to_tensor(frames, PATCH)
    return torch.cat([x, x[-1:].expand(FRAMES - len(frames), -1, -1, -1)])[None]


def group_shapes(config: HyperConfig, height: int, width: int) -> list[tuple[int, ...]]:
    """Shapes of the integer groups of a segment: grid per DCT term (LATENT, h, w), film per
    layer and scale/shift (channels, h/4, w/4)."""
    hp, wp = padded_size(height, width, PATCH)
    grid = [(config.latent, hp // CELL, wp // CELL)] * config.basis
    film = [(c, hp // PATCH, wp // PATCH) for c in config.widths[: config.film] for _ in "sb"]
    return grid + film


def split_groups(grid: torch.Tensor, film: torch.Tensor, config: HyperConfig) -> list[np.ndarray]:
    """(BASIS*LATENT, h, w) and (FILM, h/4, w/4) integers -> int64 groups shaped as
    :func:`group_shapes` says (grouped by :func:`coding_groups`)."""
    groups = coding_groups(grid[None], film[None], config)
    shapes = [(-1, *grid.shape[1:])] * config.basis + [(-1, *film.shape[1:])] * (
        len(groups) - config.basis
    )
    return [g[0].reshape(shape).long().numpy() for g, shape in zip(groups, shapes, strict=True)]


def join_groups(groups: list[np.ndarray], config: HyperConfig) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`split_groups`."""
    grid = np.concatenate(groups[: config.basis])
    return grid, np.concatenate(groups[config.basis :])


def encode_groups(groups: list[np.ndarray]) -> bytes:
    """Integer arrays -> one scale index byte per group + one ANS stream (laplace-v1 tables)."""
    encoder = SymbolEncoder()
    indices = bytes(encode_group(encoder, group.reshape(-1)) for group in groups)
    return indices + encoder.to_bytes()


def decode_groups(data: bytes, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    """Inverse of :func:`encode_groups` for groups of the given shapes."""
    family = laplace_family()
    if len(data) < len(shapes):
        raise BitstreamError("video segment chunk truncated")
    decoder = SymbolDecoder(data[len(shapes) :])
    groups = []
    for index, shape in zip(data[: len(shapes)], shapes, strict=True):
        size = int(np.prod(shape))
        groups.append(family.decode(decoder, np.full(size, index)).reshape(shape))
    decoder.finish()
    if any(np.abs(g).max(initial=0) > MAX_INTEGER for g in groups):
        raise BitstreamError("video segment chunk: weight out of range")
    return groups


class SegmentCoder:
    """Encodes the segments of one video in order (keeps the last segment's integers)."""

    def __init__(self, shipped, step: float, refine: int, key_interval: int) -> None:
        self.hyper, self.hypo, self.step = shipped.hyper, shipped.hypo, step
        self.refine, self.key_interval = refine, key_interval
        self.index, self.previous = 0, None

    def weights(self, frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(grid, film) integers (as floats) of one segment (n <= FRAMES, H, W, 3) uint8."""
        n, h, w, _ = frames.shape
        x = to_segment(frames)
        step = torch.tensor([self.step])
        with torch.no_grad():
            grid, film = (t[0] / self.step for t in self.hyper(x, step))
        if self.refine:
            grid, film = self._refined(grid, film, x[0, :n, :, :h, :w], n)
        return torch.round(grid), torch.round(film)

    def _refined(self, grid, film, target: torch.Tensor, n: int):
        """Adam on the weights (step units), one frame of the segment per step in turn."""
        grid, film = grid.clone().requires_grad_(True), film.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([grid, film], REFINE_LEARNING_RATE)
        h, w = target.shape[-2:]
        for index in range(self.refine):
            t = index % n
            g, f = round_straight_through(grid), round_straight_through(film)
            x = self.hypo.inputs(g * self.step)[t : t + 1]
            out = self.hypo.render(x, f[None] * self.step)[:, :, :h, :w]
            bits = rate_bits(g[None], f[None], self.hypo.config)[0]
            loss = F.mse_loss(out, target[t : t + 1]) + bits / (n * h * w) * self.step**2 / LAM_UNIT
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return grid.detach(), film.detach()

    def chunk(self, frames: np.ndarray) -> bytes:
        """The chunk of the next segment."""
        grid, film = self.weights(frames)
        groups = split_groups(grid, film, self.hypo.config)
        chunk = bytes([KEY]) + encode_groups(groups)
        if self.previous is not None and self.index % self.key_interval:
            deltas = [g - p for g, p in zip(groups, self.previous, strict=True)]
            residual = bytes([RESIDUAL]) + encode_groups(deltas)
            chunk = min(chunk, residual, key=len)
        self.index += 1
        self.previous = groups
        return chunk


class SegmentRenderer:
    """Decodes the segments of one file in order (keeps the last segment's integers)."""

    def __init__(self, shipped, step: float, height: int, width: int) -> None:
        self.hypo, self.config, self.step = shipped.hypo, shipped.hypo.config, step
        self.height, self.width = height, width
        self.shapes = group_shapes(self.config, height, width)
        self.previous: list[np.ndarray] | None = None

    def frames(self, chunk: bytes, count: int) -> Iterator[np.ndarray]:
        """(height, width, 3) uint8 frames of a segment of ``count`` frames."""
        if not chunk or chunk[0] not in (KEY, RESIDUAL):
            raise BitstreamError("video segment chunk: unknown segment kind")
        groups = decode_groups(chunk[1:], self.shapes)
        if chunk[0] == RESIDUAL:
            if self.previous is None:
                raise BitstreamError("video file starts with a residual segment")
            groups = [g + p for g, p in zip(groups, self.previous, strict=True)]
        self.previous = groups
        grid, film = join_groups(groups, self.config)
        grid = torch.from_numpy(grid.astype(np.float32)) * self.step
        film = torch.from_numpy(film.astype(np.float32)) * self.step
        with torch.inference_mode():
            inputs = run_single_threaded(self.hypo.inputs, [grid])[0]

        def frame(t: int) -> np.ndarray:
            with torch.inference_mode():
                out = self.hypo.render(inputs[t : t + 1], film[None])
            out = out[0, :, : self.height, : self.width]
            return (out * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()

        yield from run_single_threaded(frame, range(count))

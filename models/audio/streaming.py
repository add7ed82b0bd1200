"""Segment-by-segment encoder and decoder networks with exact left context.

Both hold the tail of the previous segment (input samples on the encode side, quantized
latent frames on the decode side) and prepend it to the next one, so every output frame or
sample sees the same past as in whole-file processing (the networks are causal with a finite
receptive field, see ``AudioNetwork.receptive_frames``). The first segment gets no context:
the networks' own zero padding then matches whole-file processing at t = 0. Memory is one
segment plus the context, whatever the duration.

Both directions cut a segment into pieces (each channel, and each half of it when it is
long enough), each with its own left context, and run each piece on one thread, two pieces
at a time. One thread per piece matters: torch's CPU convolutions split their sums
differently with more threads (differences of ~1e-7 that flip a rare 16-bit sample), and the
pieces depend on the segment length only, so codes and decoded PCM are the same whatever the
caller's thread setting.

A channel may also skip a segment (the codec does so for a quiet side channel): the encoder
then only keeps the segment's tail as context, the decoder outputs silence and keeps zero
latent frames as context.

Shapes: segments are (C, L) float32 waveforms at 24 kHz, codes are (C, N, S) int64 with
N = L / hop frames and S code streams.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import pairwise

import numpy as np
import torch

from models.audio.network import AudioNetwork
from models.threads import run_single_threaded


def rechunk(blocks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """(C, n) blocks -> (C, size) pieces; the last piece may be shorter (never empty)."""
    pending: list[np.ndarray] = []
    held = 0
    for block in blocks:
        pending.append(block)
        held += block.shape[1]
        if held >= size:
            joined = np.concatenate(pending, axis=1)
            cut = held // size * size
            yield from np.split(joined[:, :cut], cut // size, axis=1)
            pending, held = [joined[:, cut:]], held - cut
    if held:
        yield np.concatenate(pending, axis=1)


def _pieces(channels: int, held: int, frames: int, context: int) -> list[tuple[int, int, int]]:
    """(channel, first, end) frame ranges of the new frames (after ``held`` context frames),
    halves when both halves are longer than the context."""
    halves = 2 if frames >= 2 * context else 1
    cuts = [held + frames * i // halves for i in range(halves + 1)]
    return [(c, a, b) for c in range(channels) for a, b in pairwise(cuts)]


def _join(parts: list[torch.Tensor], channels: int, dim: int) -> torch.Tensor:
    """Pieces back to (C, ...) in channel order, concatenated along ``dim`` (of a piece)."""
    per = len(parts) // channels
    return torch.stack([torch.cat(parts[c * per : (c + 1) * per], dim) for c in range(channels)])


class SegmentEncoder:
    """Waveform segments -> codes of ``mode`` ("rvq" with ``streams`` levels, or "fsq")."""

    def __init__(self, net: AudioNetwork, mode: str, streams: int) -> None:
        self.net, self.mode, self.streams = net, mode, streams
        self.context = net.receptive_frames()[0]
        self.history: torch.Tensor | None = None
        self.frames = 0

    def _extend(self, segment: np.ndarray) -> tuple[torch.Tensor, int, int]:
        """(context + segment waveform, context frames, segment frames); keeps the tail."""
        hop = self.net.hop
        wave = torch.from_numpy(np.ascontiguousarray(segment, dtype=np.float32))
        wave = torch.nn.functional.pad(wave, (0, -wave.shape[1] % hop))
        frames = wave.shape[1] // hop
        held = 0 if self.history is None else self.history.shape[1] // hop
        if self.history is not None:
            wave = torch.cat([self.history, wave], dim=1)
        self.history = wave[:, -self.context * hop :]
        self.frames += frames
        return wave, held, frames

    def skip(self, segment: np.ndarray) -> None:
        """Take (C, L) samples as context for the next segment without coding them."""
        self._extend(segment)

    @torch.inference_mode()
    def codes(self, segment: np.ndarray) -> np.ndarray:
        """(C, L) samples (L a multiple of hop, except for the last segment) -> (C, N, S)."""
        hop = self.net.hop
        wave, held, frames = self._extend(segment)

        def encode(piece: tuple[int, int, int]) -> torch.Tensor:
            channel, a, b = piece
            lo = max(0, a - self.context)
            with torch.inference_mode():
                latent = self.net.encode_latent(
                    wave[channel : channel + 1, None, lo * hop : b * hop]
                )
                latent = latent[..., a - lo :]
                if self.mode == "rvq":
                    return self.net.rvq_codes(latent, self.streams)[0]
                return self.net.fsq_codes(latent)[0]

        pieces = _pieces(wave.shape[0], held, frames, self.context)
        return _join(run_single_threaded(encode, pieces), wave.shape[0], 0).numpy()


class SegmentDecoder:
    """Codes -> waveform segments, the inverse of :class:`SegmentEncoder` (up to coding loss)."""

    def __init__(self, net: AudioNetwork, mode: str) -> None:
        self.net, self.mode = net, mode
        self.context = net.receptive_frames()[1]
        self.history: torch.Tensor | None = None

    @torch.inference_mode()
    def samples(self, codes: np.ndarray) -> np.ndarray:
        """(C, N, S) codes -> (C, N * hop) float32 samples."""
        codes_t = torch.from_numpy(codes)
        if self.mode == "rvq":
            latent = self.net.rvq_latent(codes_t)
        else:
            latent = self.net.fsq_latent(codes_t)
        latent, held, frames = self._extend(latent)

        def decode(piece: tuple[int, int, int]) -> torch.Tensor:
            channel, a, b = piece
            lo = max(0, a - self.context)
            with torch.inference_mode():
                wave = self.net.decode_latent(latent[channel : channel + 1, :, lo:b])
            return wave[0, 0, (a - lo) * self.net.hop :]

        pieces = _pieces(latent.shape[0], held, frames, self.context)
        return _join(run_single_threaded(decode, pieces), latent.shape[0], 0).numpy()

    def _extend(self, latent: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        """(context + segment latent, context frames, segment frames); keeps the tail."""
        frames = latent.shape[-1]
        held = 0 if self.history is None else self.history.shape[-1]
        if self.history is not None:
            latent = torch.cat([self.history, latent], dim=-1)
        self.history = latent[..., -self.context :]
        return latent, held, frames

    def silence(self, channels: int, frames: int) -> np.ndarray:
        """(channels, frames * hop) zeros for a segment that was skipped; zero latent frames
        become the next segment's context."""
        self._extend(torch.zeros(channels, self.net.cfg.latent, frames))
        return np.zeros((channels, frames * self.net.hop), dtype=np.float32)

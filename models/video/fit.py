"""Fitting the nerv-mode network to one segment of frames, with quantization-aware training.

The frames are padded (edge replication) to multiples of the network stride; the loss is the
MSE over the real pixels only. Adam, one frame per step, with a cosine learning-rate schedule
over the budget (``epochs``, or wall-clock ``time_limit`` seconds, whichever ends first); the
last ``QAT_FRACTION`` of the budget trains through the quantizers (decoder weights and
embeddings rounded in the forward pass), so the transmitted integers are what was trained.
The encoder (a fitting aid) is not transmitted.

A residual segment starts from the previous segment's fitted networks (``start``) and keeps
its weights' quantization steps, so its weight integers can be coded as differences to the
previous ones; it trains with a lower learning rate (``WARM_LEARNING_RATE``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from models.video.network import STRIDE, Decoder, Encoder, NervConfig
from models.video.quantize import EMBED_BITS, WEIGHT_BITS, fake_quantize, quantize

QAT_FRACTION = 0.2
LEARNING_RATE = 4e-3
WARM_LEARNING_RATE = 1e-3


@dataclass
class FittedSegment:
    """Integers and steps of the decoder weights (in ``Decoder.state_dict`` order) and of
    the embeddings (T, embed, h, w) (one step per channel, dim 1)."""

    weights: list[tuple[np.ndarray, np.ndarray]]
    embeddings: tuple[np.ndarray, np.ndarray]
    epochs: int
    psnr: float  # of the last epoch, dB, on the padded frames' real pixels
    state: tuple[dict, dict]  # encoder and decoder state dicts, the next segment's start

    @property
    def integers(self) -> list[np.ndarray]:
        """The decoder weights' integers (what a residual segment is coded against)."""
        return [q for q, _ in self.weights]


def padded_size(height: int, width: int, multiple: int = STRIDE) -> tuple[int, int]:
    """The frame size rounded up to multiples of ``multiple`` pixels."""
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def to_tensor(frames: np.ndarray, multiple: int = STRIDE) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, Hp, Wp) float in [0, 1], edge-padded to multiples of
    ``multiple`` pixels."""
    _, h, w, _ = frames.shape
    hp, wp = padded_size(h, w, multiple)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
    return F.pad(x, (0, wp - w, 0, hp - h), mode="replicate")


def _quantized_decoder(
    decoder: Decoder, embeddings: torch.Tensor, steps: list[np.ndarray] | None
) -> torch.Tensor:
    params = {
        name: fake_quantize(p, WEIGHT_BITS, steps=None if steps is None else steps[i])
        for i, (name, p) in enumerate(decoder.named_parameters())
    }
    emb = fake_quantize(embeddings, EMBED_BITS, dim=1)
    return torch.func.functional_call(decoder, params, (emb,))


def fit_segment(
    frames: np.ndarray,
    config: NervConfig,
    epochs: int,
    time_limit: float = float("inf"),
    progress: bool = False,
    start: FittedSegment | None = None,
    seed: int = 0,
) -> FittedSegment:
    """Fit encoder + decoder to (T, H, W, 3) uint8 frames for ``epochs`` passes or
    ``time_limit`` seconds; ``progress`` shows a bar of epochs with the PSNR. ``start``: the
    previous segment's fit (a residual segment: warm start, same weight steps)."""
    torch.manual_seed(seed)
    h, w = frames.shape[1:3]
    target = to_tensor(frames)
    encoder, decoder = Encoder(config), Decoder(config)
    steps, rate = None, LEARNING_RATE
    if start is not None:
        encoder.load_state_dict(start.state[0])
        decoder.load_state_dict(start.state[1])
        steps, rate = [s for _, s in start.weights], WARM_LEARNING_RATE
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], rate)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=epochs, desc=f"fitting {len(frames)} frames", unit="epoch", leave=False)
    start = time.perf_counter()
    epoch, psnr = 0, 0.0
    while epoch < epochs:
        done = max(epoch / epochs, (time.perf_counter() - start) / time_limit)
        if done >= 1.0:
            break
        for group in optimizer.param_groups:
            group["lr"] = rate * 0.5 * (1 + math.cos(math.pi * done))
        quantized = done >= 1.0 - QAT_FRACTION
        total = 0.0
        for index in torch.randperm(len(target)):
            frame = target[index : index + 1]
            embeddings = encoder(frame)
            out = (
                _quantized_decoder(decoder, embeddings, steps) if quantized else decoder(embeddings)
            )
            loss = F.mse_loss(out[..., :h, :w], frame[..., :h, :w])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        epoch += 1
        psnr = 10 * math.log10(len(target) / max(total, 1e-12))
        if bar is not None:
            bar.update()
            bar.set_postfix_str(f"{psnr:.2f} dB")
    if bar is not None:
        bar.close()
    with torch.no_grad():
        embeddings = torch.cat([encoder(target[i : i + 1]) for i in range(len(target))])
    weights = [
        quantize(p, WEIGHT_BITS, steps=None if steps is None else steps[i])
        for i, p in enumerate(decoder.state_dict().values())
    ]
    state = (encoder.state_dict(), decoder.state_dict())
    return FittedSegment(weights, quantize(embeddings, EMBED_BITS, dim=1), epoch, psnr, state)

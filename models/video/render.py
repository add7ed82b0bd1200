"""Decoder side of nerv mode: a segment's chunk -> its frames.

The decoder network is rebuilt from the chunk's integers and steps, then run on one frame
embedding at a time, each on one torch thread (two at a time, :mod:`models.threads`), so the
frames do not depend on the caller's thread setting.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from models.threads import run_single_threaded
from models.video.fit import padded_size
from models.video.network import STRIDE, Decoder, NervConfig
from models.video.quantize import decode_tensors, dequantize


def render_segment(
    chunk: bytes, config: NervConfig, count: int, height: int, width: int
) -> Iterator[np.ndarray]:
    """(height, width, 3) uint8 frames of a segment of ``count`` frames."""
    hp, wp = padded_size(height, width)
    decoder = Decoder(config)
    names = list(decoder.state_dict())
    shapes = [(tuple(t.shape), None) for t in decoder.state_dict().values()]
    shapes.append(((count, config.embed, hp // STRIDE, wp // STRIDE), 1))
    tensors = decode_tensors(chunk, shapes)
    decoder.load_state_dict(
        {name: dequantize(q, steps) for name, (q, steps) in zip(names, tensors, strict=False)}
    )
    embeddings = dequantize(*tensors[-1], dim=1)

    def frame(index: int) -> np.ndarray:
        with torch.inference_mode():
            out = decoder(embeddings[index : index + 1])[0, :, :height, :width]
        return (out * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()

    yield from run_single_threaded(frame, range(count))

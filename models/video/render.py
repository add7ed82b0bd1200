"""Decoder side of nerv mode: segment chunks -> frames.

The decoder network is rebuilt from each chunk's integers and steps (a residual chunk's weight
integers are differences to the previous segment's), then run on one frame embedding at a
time, each on one torch thread (two at a time, :mod:`models.threads`), so the frames do not
depend on the caller's thread setting.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from codec.errors import BitstreamError
from models.threads import run_single_threaded
from models.video.fit import padded_size
from models.video.network import STRIDE, Decoder, NervConfig
from models.video.quantize import KEY, RESIDUAL, decode_tensors, dequantize


class SegmentRenderer:
    """Decodes the segments of one file in order (keeps the weight integers of the last)."""

    def __init__(self, config: NervConfig, height: int, width: int) -> None:
        self.config, self.height, self.width = config, height, width
        self.previous: list[np.ndarray] | None = None

    def frames(self, chunk: bytes, count: int) -> Iterator[np.ndarray]:
        """(height, width, 3) uint8 frames of a segment of ``count`` frames."""
        if not chunk or chunk[0] not in (KEY, RESIDUAL):
            raise BitstreamError("video segment chunk: unknown segment kind")
        if chunk[0] == RESIDUAL and self.previous is None:
            raise BitstreamError("video file starts with a residual segment")
        hp, wp = padded_size(self.height, self.width)
        decoder = Decoder(self.config)
        names = list(decoder.state_dict())
        shapes = [(tuple(t.shape), None) for t in decoder.state_dict().values()]
        shapes.append(((count, self.config.embed, hp // STRIDE, wp // STRIDE), 1))
        *weights, embedded = decode_tensors(chunk[1:], shapes)
        if chunk[0] == RESIDUAL:
            weights = [(q + p, steps) for (q, steps), p in zip(weights, self.previous, strict=True)]
        self.previous = [q for q, _ in weights]
        decoder.load_state_dict(
            {name: dequantize(q, steps) for name, (q, steps) in zip(names, weights, strict=True)}
        )
        embeddings = dequantize(*embedded, dim=1)

        def frame(index: int) -> np.ndarray:
            with torch.inference_mode():
                out = decoder(embeddings[index : index + 1])[0, :, : self.height, : self.width]
            return (out * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()

        yield from run_single_threaded(frame, range(count))

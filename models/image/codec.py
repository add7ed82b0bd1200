"""The image codec (codec id ``image-v1``): learned transforms, integer hyperprior and
grouped checkerboard context.

Chunks: 0 = hyper-latent z (factorized integer tables, index = channel), then one chunk per
latent channel group k (``gaussian-v1`` with integer scale indexes, means subtracted in 1/16
steps; anchors first, then the other checkerboard half). The group sizes come with the
weights, which the header names (``weights_id``). Metadata: ``height``, ``width``,
``channels`` (1 or 3), ``quality`` (1..9). Any size is coded: the image is padded to a
multiple of 64 by edge replication and cropped after decoding; grayscale is coded through
the RGB model (three equal planes) and averaged back. Decoding the first k group chunks only
gives a preview (:meth:`ImageCodec.decode_preview`): missing groups take their hyper means.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codec.container import ContainerHeader
from codec.errors import BitstreamError, InputError, InvalidParameterError
from codec.registry import Codec, DecodeOptions, Encoded, EncodeOptions
from entropy import IndexedGaussian, SymbolDecoder, SymbolEncoder
from models.image.context import checkerboard, group_bounds
from models.image.network import LAMBDAS, MEAN_STEPS
from models.shipped import check_weights

if TYPE_CHECKING:
    import torch

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "image-v1.safetensors"
QUALITIES = range(1, len(LAMBDAS) + 1)  # quality q codes at rate level q - 1
DEFAULT_QUALITY = 6  # lambda 0.013
PAD = 64
MAX_SIDE = 1 << 15
MAX_PIXELS = 1 << 26
#: Bits one unit of squared latent error is worth in :func:`rd_round`. The gain units scale
#: latents like sqrt(lambda), which makes one weight serve every level; 40-50 measured best
#: (objective -0.70 % averaged over quality 1-9; 50: -1.47 % at quality 1) on six 512x512
#: training-image crops (tools/tune_image_rounding.py, docs/image.md).
RD_WEIGHT = 50.0


@functools.cache
def load_model(path: Path = WEIGHTS):
    """(ImageModel, weights id) of a weights file, loaded once per process."""
    from models.image.model import ImageModel
    from models.shipped import weights_id

    if not path.is_file():
        raise InputError(f"image weights missing: {path} (reinstall the package)")
    model = ImageModel.load(path)
    return model, weights_id(model.name, path.read_bytes())


@functools.cache
def _gaussian() -> IndexedGaussian:
    """One shared instance, so its constriction models are built once per process."""
    return IndexedGaussian()


def _padded(size: int) -> int:
    return -(-size // PAD) * PAD


class ImageCodec(Codec):
    """Learned lossy image codec; ``--quality`` 1 (smallest) .. 9 (best), default 6;
    ``--refine N``: N steps of encoder-side latent refinement (models.image.refine)."""

    kind = "image"
    codec_id = "image-v1"

    def __init__(self, weights: Path = WEIGHTS) -> None:
        self.weights = weights

    def _model(self):
        return load_model(self.weights)

    def encode(self, media: np.ndarray, options: EncodeOptions) -> Encoded:
        options.require_only("image codec (it takes --quality, --refine)", "quality", "refine")
        quality = DEFAULT_QUALITY if options.quality is None else options.quality
        if quality not in QUALITIES:
            raise InvalidParameterError(f"--quality must be 1..{QUALITIES[-1]}, got {quality}")
        refine = options.refine_steps()
        image = np.asarray(media)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (1, 3):
            raise InputError(f"image must be (H, W, 1|3) uint8, got {image.dtype} {image.shape}")
        height, width, channels = image.shape
        _check_size(height, width, InputError)
        model, weights_id = self._model()
        x = padded_input(image)
        rate = float(quality - 1)
        grid = (x.shape[2] // 16, x.shape[3] // 16)
        # analysis tiles, then one step per coded group
        with _tile_progress(options.progress, grid, len(model.groups), "encoding image") as step:
            y = model.analysis(x, rate, on_tile=step)
            plain = code_latent(model, y, on_group=step)
        chunks = plain[0]
        if refine:  # the refined latent only where its file scores better (see refine.py)
            refined = code_latent(model, model.refine(x, y, rate, refine, options.progress))
            if file_cost(model, *refined, image, quality) < file_cost(
                model, *plain, image, quality
            ):
                chunks = refined[0]
        metadata = {"height": height, "width": width, "channels": channels, "quality": quality}
        return Encoded(chunks, metadata, weights_id)

    def decode(
        self, header: ContainerHeader, chunks: Iterator[bytes], options: DecodeOptions
    ) -> np.ndarray:
        return self.decode_preview(header, chunks, None, options.progress)

    def decode_preview(
        self,
        header: ContainerHeader,
        chunks: Iterator[bytes],
        groups: int | None,
        progress: bool = False,
    ) -> np.ndarray:
        """Decode using only the first ``groups`` channel groups (None: all of them);
        ``progress``: a progress bar over the synthesis tiles of a large image."""
        import torch

        meta = header.metadata
        height, width = meta.get("height"), meta.get("width")
        channels, quality = meta.get("channels"), meta.get("quality")
        if not all(isinstance(v, int) for v in (height, width, channels, quality)):
            raise BitstreamError("image header needs integer height, width, channels, quality")
        _check_size(height, width, BitstreamError)
        if channels not in (1, 3) or quality not in QUALITIES:
            raise BitstreamError(f"image header: channels {channels} / quality {quality} invalid")
        model, weights_id = self._model()
        check_weights(header.weights_id, weights_id)
        if len(header.chunks) != 1 + len(model.groups):
            raise BitstreamError(
                f"image file needs {1 + len(model.groups)} chunks, has {len(header.chunks)}"
            )
        chunks = iter(chunks)
        h, w = _padded(height) // 16, _padded(width) // 16
        z_shape = (1, model.config.z, h // 4, w // 4)
        z_decoder = SymbolDecoder(next(chunks))
        z = model.z_family.decode(z_decoder, _channel_index(z_shape)).reshape(z_shape)
        z_decoder.finish()
        hyper = model.hyper_parameters(torch.from_numpy(z))
        m = model.config.m
        y_hat16 = hyper[:, :m].clone()  # groups not decoded keep their hyper means
        for k, (a, b) in enumerate(group_bounds(model.groups)[:groups]):
            decoder = SymbolDecoder(next(chunks))
            y_hat16[:, a:b] = 0
            for anchor, means, indexes in _passes(model, k, a, b, hyper, y_hat16):
                q = _gaussian().decode(decoder, indexes[anchor].numpy().astype(np.int64))
                y_hat16[:, a:b][anchor] = (
                    torch.from_numpy(q.astype(np.float64)) * MEAN_STEPS + (means[anchor])
                )
            decoder.finish()
        with _tile_progress(progress, (h, w), 0, "synthesis") as step:
            return _pixels(model, y_hat16, quality, height, width, channels, step)


def code_latent(
    model,
    y: torch.Tensor,
    rd_weight: float = RD_WEIGHT,
    on_group: Callable[[], object] | None = None,
) -> tuple[list[bytes], torch.Tensor]:
    """Gained latent y (1,M,h,w) -> (chunks: hyper-latent, then one per channel group;
    y_hat16: the latent as decoded, in 1/MEAN_STEPS steps, (1,M,h,w) float64). Symbols are
    chosen by :func:`rd_round` with ``rd_weight`` (0: plain rounding); ``on_group`` is
    called after each group (progress reports)."""
    import torch

    z = model.hyper_analysis(y)
    z_encoder = SymbolEncoder()
    model.z_family.encode(z_encoder, z.numpy().astype(np.int64), _channel_index(z.shape))
    chunks = [z_encoder.to_bytes()]
    hyper = model.hyper_parameters(z)
    y_hat16 = torch.zeros_like(hyper[:, : y.shape[1]])
    for k, (a, b) in enumerate(group_bounds(model.groups)):
        encoder = SymbolEncoder()
        for anchor, means, indexes in _passes(model, k, a, b, hyper, y_hat16):
            table = indexes[anchor].numpy().astype(np.int64)
            q = rd_round((y[:, a:b].double() - means / MEAN_STEPS)[anchor], table, rd_weight)
            _gaussian().encode(encoder, q.numpy().astype(np.int64), table)
            y_hat16[:, a:b][anchor] = q * MEAN_STEPS + means[anchor]
        chunks.append(encoder.to_bytes())
        if on_group is not None:
            on_group()
    return chunks, y_hat16


@contextlib.contextmanager
def _tile_progress(
    enabled: bool, grid: tuple[int, int], extra_steps: int, desc: str
) -> Iterator[Callable[[], object] | None]:
    """A tqdm bar over the tiles of a (h, w) latent grid plus ``extra_steps``, yielding its
    ``update`` as the step callback; None and no bar when not ``enabled`` or when the grid
    is one tile (a small image: no long work to report)."""
    from models.image.tiling import tile_count

    tiles = tile_count(*grid)
    if not enabled or tiles == 1:
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=tiles + extra_steps, desc=desc, unit="step", leave=False) as bar:
        yield bar.update


def rd_round(v: torch.Tensor, tables: np.ndarray, rd_weight: float) -> torch.Tensor:
    """Rate-distortion optimised rounding of latents ``v`` (any shape, latent units, means
    already subtracted) coded with ``gaussian-v1`` tables ``tables`` (same shape): each
    value is rounded to nearest, then moved one step toward 0 where the bits that saves
    exceed ``rd_weight`` times the growth of its squared error. Encoder side only."""
    import torch

    nearest = torch.round(v)
    if not rd_weight:
        return nearest
    toward = nearest - torch.sign(nearest)
    family = _gaussian()
    saved = family.code_lengths(nearest.numpy().astype(np.int64), tables) - family.code_lengths(
        toward.numpy().astype(np.int64), tables
    )
    growth = (v - toward) ** 2 - (v - nearest) ** 2
    return torch.where(torch.from_numpy(saved) > rd_weight * growth, toward, nearest)


def _pixels(
    model,
    y_hat16: torch.Tensor,
    quality: int,
    height: int,
    width: int,
    channels: int,
    on_tile: Callable[[], object] | None = None,
) -> np.ndarray:
    """Decoded latent y_hat16 (1,M,h,w) in 1/MEAN_STEPS steps -> (height, width, channels)
    uint8 image (``on_tile``: called after each synthesis tile of a large image)."""
    import torch

    y_hat = y_hat16 / MEAN_STEPS
    x_hat = model.synthesis(y_hat, float(quality - 1), on_tile)[0, :, :height, :width]
    pixels = torch.round(x_hat.clamp(0, 1) * 255)
    if channels == 1:
        pixels = torch.round(pixels.mean(dim=0, keepdim=True))
    return pixels.permute(1, 2, 0).to(torch.uint8).numpy()


def file_cost(
    model, chunks: list[bytes], y_hat16: torch.Tensor, image: np.ndarray, quality: int
) -> float:
    """The rate level's objective for a coded latent, measured on the file as written:
    bits per pixel of its chunks + lambda * MSE (0..255 scale) of its decoded pixels
    against ``image`` (H, W, 1|3) uint8."""
    height, width, channels = image.shape
    decoded = _pixels(model, y_hat16, quality, height, width, channels)
    bpp = 8 * sum(len(chunk) for chunk in chunks) / (height * width)
    mse = np.mean((decoded.astype(np.float64) - image) ** 2)
    return bpp + LAMBDAS[quality - 1] * mse


def padded_input(image: np.ndarray) -> torch.Tensor:
    """(H, W, 1|3) uint8 image -> (1, 3, H', W') float32 in [0, 1], edge-replicated to
    multiples of 64 (grayscale as three equal planes)."""
    import torch
    import torch.nn.functional as F

    height, width, _ = image.shape
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255
    x = x.expand(1, 3, height, width)
    pad = (0, _padded(width) - width, 0, _padded(height) - height)
    return F.pad(x, pad, mode="replicate")


def _check_size(height: int, width: int, error: type[Exception]) -> None:
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE and height * width <= MAX_PIXELS):
        raise error(f"image size {width}x{height} out of range (1..{MAX_SIDE} per side)")


def _passes(model, k: int, a: int, b: int, hyper, y_hat16):
    """The two checkerboard passes of group k: yields (mask, means16, scale indexes).

    The caller fills ``y_hat16[:, a:b]`` at the yielded mask before the next pass, so the
    second pass sees the decoded anchors. Both sides call this with identical integers.
    """
    import torch

    m, h, w = model.config.m, hyper.shape[2], hyper.shape[3]
    hyper_k = torch.cat([hyper[:, a:b], hyper[:, m + a : m + b]], dim=1)
    anchor = checkerboard(h, w, anchor=True).bool().expand(1, b - a, h, w)
    previous = y_hat16[:, :a]
    means, indexes = model.group_parameters(k, hyper_k, previous, torch.zeros_like(y_hat16[:, a:b]))
    yield anchor, means, indexes
    anchors = y_hat16[:, a:b] * anchor
    means, indexes = model.group_parameters(k, hyper_k, previous, anchors)
    yield ~anchor, means, indexes


def _channel_index(shape: tuple[int, ...]) -> np.ndarray:
    """Table index (= channel) of every element of a (1, C, h, w) tensor in C order."""
    _, c, h, w = shape
    return np.repeat(np.arange(c, dtype=np.int64), h * w)

"""Run the image model's convolutional networks tile by tile, so that memory stays bounded
on large images.

On the whole image, a 12-megapixel photo took 5.1-5.4 GB to encode or decode: the
transforms hold 96-channel feature maps at half the image resolution, and the float64
integer networks unfold 3x3 convolutions over hundreds of channels at 1/16 resolution; the
codec accepts up to 64 megapixels. Every network here is convolutional with a small
receptive field, so :func:`tiled` computes it on tiles of the latent grid (``TILE`` x
``TILE`` positions of the 1/16-resolution latent), each from its own region plus a halo of
context on every side, and crops the halo from the result:

==========================  ===========  ===============  ====================================
network                     grid unit    halo (units)     receptive radius
==========================  ===========  ===============  ====================================
g_a (pixels -> latent)      latent       ceil(reach/16)   reach = ``transform_reach`` pixels,
g_s (latent -> pixels)      latent       ceil(reach/16)   each its own (134 -> 9 at 8 + 4)
h_a (latent -> z, float)    z (4 latent) 3                7 latent positions
h_s (z -> parameters)       z            3                ~1.8 z positions
context networks            latent       3                2 latent positions
==========================  ===========  ===============  ====================================

Tiles start at multiples of the grid unit, so every strided layer samples the same grid as
on the whole image, and a tile at the image border has the same zero padding there. The
integer networks give identical integers tiled or not; the float transforms give the same
values (measured bit-identical; tested to float rounding). Grids of at most ``TILE``
positions per side (images up to 1536 pixels per side, the Kodak images and the golden
vectors included) take a single tile: the whole-image path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

#: Latent positions per tile side (1536 pixels).
TILE = 96
#: Halo of the networks with a smaller receptive field, in their grid units.
SMALL_HALO = 3


def _spans(size: int, tile: int, halo: int) -> Iterator[tuple[int, int, int, int]]:
    """(start, stop) of each tile along one axis of ``size`` grid units and (start, stop)
    of its region with halo, clipped to the axis."""
    for start in range(0, size, tile):
        stop = min(start + tile, size)
        yield start, stop, max(start - halo, 0), min(stop + halo, size)


def tiled(
    network: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    scale_in: int,
    scale_out: int,
    halo: int,
    latents_per_unit: int = 1,
    on_tile: Callable[[], object] | None = None,
) -> torch.Tensor:
    """network(x), computed tile by tile; ``on_tile`` (if given) is called after each
    tile of a grid larger than one tile (progress reports).

    x: (B,C,H,W) with ``scale_in`` elements per grid unit along H and W; the network maps
    it to (B,C',H/scale_in*scale_out,W/scale_in*scale_out). A grid unit spans
    ``latents_per_unit`` latent positions (4 for the hyper-latent z), so a tile side is
    ``TILE // latents_per_unit`` units; ``halo``: grid units of context on each side.
    """
    tile = TILE // latents_per_unit
    h, w = x.shape[2] // scale_in, x.shape[3] // scale_in
    if h <= tile and w <= tile:
        return network(x)
    out = None
    for r0, r1, a0, a1 in _spans(h, tile, halo):
        for c0, c1, b0, b1 in _spans(w, tile, halo):
            part = network(x[:, :, a0 * scale_in : a1 * scale_in, b0 * scale_in : b1 * scale_in])
            if out is None:
                out = part.new_empty(x.shape[0], part.shape[1], h * scale_out, w * scale_out)
            rows = slice((r0 - a0) * scale_out, (r1 - a0) * scale_out)
            columns = slice((c0 - b0) * scale_out, (c1 - b0) * scale_out)
            out[:, :, r0 * scale_out : r1 * scale_out, c0 * scale_out : c1 * scale_out] = part[
                :, :, rows, columns
            ]
            if on_tile is not None:
                on_tile()
    return out


def tile_count(h: int, w: int) -> int:
    """Tiles of a latent grid of h x w positions (1 when it takes the whole-image path)."""
    return -(-h // TILE) * -(-w // TILE)

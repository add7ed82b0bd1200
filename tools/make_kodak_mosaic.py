"""Build a large test image from the Kodak photos (for memory and speed benchmarks only).

    python tools/make_kodak_mosaic.py --size 4000x3000 --out /tmp/big12mp.png
    python tools/make_kodak_mosaic.py --size 4000x3000 --mirror --out /tmp/big48mp.png

Fills a WxH canvas row-major with the 768x512 (landscape) Kodak images in name order,
cycling, cropped at the right and bottom edges. ``--mirror`` then doubles it to 2W x 2H:
the mosaic and its left-right mirror side by side, twice on top of each other.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

KODAK = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "image" / "kodak"


def mosaic(width: int, height: int, kodak: Path = KODAK) -> np.ndarray:
    """(height, width, 3) uint8 canvas tiled with the landscape Kodak images."""
    tiles = []
    for path in sorted(kodak.glob("kodim*.png")):
        image = Image.open(path)
        if image.size == (768, 512):
            tiles.append(np.asarray(image.convert("RGB")))
    if not tiles:
        raise SystemExit(f"no 768x512 Kodak images in {kodak}")
    out = np.zeros((height, width, 3), np.uint8)
    k = 0
    for top in range(0, height, 512):
        for left in range(0, width, 768):
            h, w = min(512, height - top), min(768, width - left)
            out[top : top + h, left : left + w] = tiles[k % len(tiles)][:h, :w]
            k += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="4000x3000", help="WxH")
    parser.add_argument("--mirror", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    image = mosaic(width, height)
    if args.mirror:
        image = np.concatenate([np.concatenate([image, image[:, ::-1]], 1)] * 2, 0)
    Image.fromarray(image).save(args.out)


if __name__ == "__main__":
    main()

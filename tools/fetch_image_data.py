"""Build the image training set: ../shared/data/image/train plus Debian wallpaper *photos*.

    python tools/fetch_image_data.py [--out ~/.cache/codec/image_train]

Downloads four Debian packages with ``apt-get download`` (no root needed), extracts them, keeps
the photographs listed below (artwork, gradients and renders are left out, per
shared/data/README.md), downsamples every image by an integer factor so its short side is
at most 768 pixels (removes JPEG artefacts and camera noise, as is usual for LIC training),
and writes one uint8 RGB ``.npy`` per image into ``--out``. Kodak is never touched.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHARED_TRAIN = ROOT.parent / "shared" / "data" / "image" / "train"
PACKAGES = (
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-20.04",
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
)
# Photographs only (checked by eye on a contact sheet); plasma entries are theme folders.
PHOTOS = (
    "Bridge_by_Sander_Klootwijk.jpg",
    "Dragonfly_by_Bolly.jpg",
    "Kleiber_by_Lukas_Baubkus.jpg",
    "Picture_0B_by_freespace.jpg",
    "Picture_1A_by_freespace.jpg",
    "Wine_by_Jakkub_Mede.jpg",
    "aitzgorri_by_Aitzol_Berasategi.jpg",
    "free_by_Peter_Nerlich.jpg",
    "friends_by_Aitzol_Berasategi.jpg",
    "life_by_Aitzol_Berasategi.jpg",
    "picosdeeuropa_by_Aitzol_Berasategi.jpg",
    "seeding_by_Clements_Engelhardt.jpg",
    "sunset_by_Aitzol_Berasategi.jpg",
    "Aqua.jpg",
    "Blinds.jpg",
    "Dune.jpg",
    "FreshFlower.jpg",
    "Garden.jpg",
    "GreenMeadow.jpg",
    "LadyBird.jpg",
    "RainDrops.jpg",
    "Storm.jpg",
    "TwoWings.jpg",
    "Wood.jpg",
    "YellowFlower.jpg",
    "BytheWater",
    "ColdRipple",
    "ColorfulCups",
    "DarkestHour",
    "EveningGlow",
    "FallenLeaf",
    "Grey",
    "Kite",
    "OneStandsOut",
    "Path",
    "summer_1am",
)
MAX_SHORT_SIDE = 768


def extract_packages(workdir: Path, packages: tuple[str, ...] = PACKAGES) -> Path:
    """Download Debian ``packages`` into ``workdir`` and unpack them under workdir/root."""
    subprocess.run(["apt-get", "download", *packages], cwd=workdir, check=True)
    root = workdir / "root"
    for deb in sorted(workdir.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root


def find_photos(root: Path) -> list[Path]:
    found = []
    for name in PHOTOS:
        if name.endswith(".jpg"):
            found += list(root.rglob(name))[:1]
        else:  # plasma theme folder: take its largest image
            images = sorted((root / "usr/share/wallpapers" / name / "contents/images").glob("*"))
            if images:
                found.append(max(images, key=lambda p: p.stat().st_size))
    return found


def downsample(image: Image.Image) -> np.ndarray:
    factor = max(1, min(image.size) // MAX_SHORT_SIDE)
    if factor > 1:
        size = (image.width // factor, image.height // factor)
        image = image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path.home() / ".cache/codec/image_train")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted(SHARED_TRAIN.glob("*.png")) if SHARED_TRAIN.is_dir() else []
    with tempfile.TemporaryDirectory() as tmp:
        sources += find_photos(extract_packages(Path(tmp)))
        for i, path in enumerate(sources):
            array = downsample(Image.open(path))
            stem = path.parents[2].name if "wallpapers" in path.parts else path.stem
            np.save(out / f"{i:03d}_{stem[:40]}.npy", array)
            print(f"{path.name}: {array.shape}")
    print(f"{len(sources)} images in {out}")


if __name__ == "__main__":
    main()

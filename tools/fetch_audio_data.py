"""Build the audio training set: ../shared/data/audio/train plus two Debian packages.

    python tools/fetch_audio_data.py [--out ~/.cache/codec/audio_train]

``klettres-data`` (1836 recorded voices, letters and syllables) and ``wesnoth-1.16-music``
(41 orchestral tracks) are fetched with ``apt-get download`` (no root needed) and unpacked.
Every file is decoded with the package's own reader, resampled to 24 kHz mono (the audio
codec's internal format) and written as one int16 ``.npy`` per source file into ``--out``.
The short klettres clips are concatenated per voice (one file each) so random crops span
several clips. ../shared/data/audio/eval is never touched.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fetch_image_data import extract_packages  # noqa: E402

from codec.errors import InputError  # noqa: E402
from codec.media.audio import open_input  # noqa: E402

SHARED_TRAIN = ROOT.parent / "shared" / "data" / "audio" / "train"
PACKAGES = ("klettres-data", "wesnoth-1.16-music")
RATE = 24000


def decode_mono(path: Path) -> np.ndarray:
    """The file as int16 samples at 24 kHz mono (empty, with a warning, if FFmpeg can't)."""
    try:
        with open_input(path) as audio:
            blocks = list(audio.resampled(RATE, 1))
    except InputError as exc:
        print(f"skipped: {exc}")
        return np.zeros(0, np.int16)
    samples = np.concatenate(blocks, axis=1)[0] if blocks else np.zeros(0, np.float32)
    return np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)


def sources(root: Path) -> dict[str, list[Path]]:
    """Output name -> the files concatenated into it."""
    groups = {f"shared_{p.stem}": [p] for p in sorted(SHARED_TRAIN.glob("*.wav"))}
    for voice in sorted((root / "usr/share/klettres").glob("*/")):
        clips = sorted(voice.rglob("*.ogg"))
        if clips:
            groups[f"klettres_{voice.name}"] = clips
    for track in sorted(root.rglob("wesnoth/*/data/core/music/*.ogg")):
        groups[f"wesnoth_{track.stem}"] = [track]
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path.home() / ".cache/codec/audio_train")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, paths in sources(extract_packages(Path(tmp), PACKAGES)).items():
            samples = np.concatenate([decode_mono(p) for p in paths])
            np.save(out / f"{name}.npy", samples)
            total += samples.size
            print(f"{name}: {len(paths)} files, {samples.size / RATE:.1f} s")
    print(f"{total / RATE / 60:.1f} minutes of audio in {out}")


if __name__ == "__main__":
    main()

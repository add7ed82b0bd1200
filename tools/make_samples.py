"""Make the bundled samples in samples/ (procedural, so they carry no third-party rights).

    python tools/make_samples.py

samples/mandelbrot_320x240.pgm: an 8-bit grayscale rendering of the Mandelbrot set with
smooth (continuous escape-time) shading.
samples/seeding_384x256.png: "seeding" by Clemens Engelhardt (CC0-1.0, Debian package
lomiri-wallpapers-16.04), downscaled 5x and cropped; the README demo's photo.
samples/melody_22k.flac: a procedural plucked-string melody (Karplus-Strong synthesis of
two voices, stereo, 22.05 kHz, 4 s); the audio demo's input and the audio golden files'.
samples/orbits_160x96.mp4: a procedural clip (48 frames, 24 fps, H.264 CRF 12): three
shaded discs orbiting over a drifting colour gradient with fine stripes; the video demo's
input.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.fetch_image_data import extract_packages  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def mandelbrot(width: int, height: int, iterations: int = 256) -> np.ndarray:
    """(height, width) uint8 image of the Mandelbrot set around the seahorse valley."""
    x = np.linspace(-0.7530, -0.7370, width)
    y = np.linspace(0.0960, 0.1080, height)
    c = x[None, :] + 1j * y[:, None]
    z = np.zeros_like(c)
    smooth = np.zeros(c.shape)
    alive = np.ones(c.shape, dtype=bool)
    for i in range(iterations):
        z[alive] = z[alive] ** 2 + c[alive]
        escaped = alive & (np.abs(z) > 4)
        smooth[escaped] = i + 1 - np.log2(np.log(np.abs(z[escaped])))
        alive &= ~escaped
    shade = np.sqrt(smooth / iterations)
    return np.round(255 * shade / shade.max()).astype(np.uint8)


def write_pgm(image: np.ndarray, path: Path) -> None:
    height, width = image.shape
    path.write_bytes(f"P5\n{width} {height}\n255\n".encode() + image.tobytes())


def plucked_melody(rate: int = 22050, seconds: float = 4.0) -> np.ndarray:
    """(2, n) float32 stereo melody: Karplus-Strong plucks, a melody left of centre and a
    bass line right of it."""
    rng = np.random.default_rng(2026)
    n = int(rate * seconds)
    out = np.zeros((2, n))
    melody = [
        (0.0, 659.3),
        (0.5, 587.3),
        (1.0, 523.3),
        (1.5, 587.3),
        (2.0, 659.3),
        (2.25, 659.3),
        (2.5, 659.3),
        (3.0, 587.3),
        (3.25, 587.3),
        (3.5, 659.3),
    ]
    bass = [(0.0, 130.8), (1.0, 98.0), (2.0, 130.8), (3.0, 98.0)]
    for notes, pan, gain in ((melody, 0.3, 0.5), (bass, 0.7, 0.6)):
        for start, freq in notes:
            period = int(round(rate / freq))
            length = min(n - int(start * rate), int(1.2 * rate))
            line = rng.uniform(-1, 1, period)
            tone = np.empty(length)
            for i in range(length):  # averaging delay line: a decaying string
                tone[i] = line[i % period]
                line[i % period] = 0.996 * 0.5 * (line[i % period] + line[(i + 1) % period])
            at = int(start * rate)
            out[0, at : at + length] += gain * (1 - pan) * tone
            out[1, at : at + length] += gain * pan * tone
    return (0.9 * out / np.abs(out).max()).astype(np.float32)


def write_flac(samples: np.ndarray, rate: int, path: Path) -> None:
    from codec.media.audio import Audio, AudioInfo, write

    write(Audio(AudioInfo(rate, samples.shape[0], samples.shape[1]), iter([samples])), path)


def orbits(width: int = 160, height: int = 96, frames: int = 48) -> np.ndarray:
    """(frames, height, width, 3) uint8: discs orbiting over a drifting gradient."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    discs = [(0.30, 1.0, (230, 80, 60)), (0.22, -1.5, (60, 200, 90)), (0.38, 0.6, (70, 90, 240))]
    for t in range(frames):
        phase = 2 * np.pi * t / frames
        base = np.stack(
            [
                110 + 60 * np.sin(x / width * 3 + phase),
                100 + 50 * np.cos(y / height * 4 - phase),
                120 + 40 * np.sin((x + y) / 40 + 2 * phase),
            ],
            axis=-1,
        )
        base += 12 * np.sin(x / 2.5 + y / 7)[..., None]  # fine stripes: some texture
        for radius, speed, colour in discs:
            cx = width / 2 + radius * width * np.cos(speed * phase)
            cy = height / 2 + radius * height * np.sin(speed * phase)
            r2 = ((x - cx) ** 2 + (y - cy) ** 2) / (0.12 * height) ** 2
            shade = np.clip(1.2 - r2, 0, 1)[..., None] * (r2 < 1)[..., None]
            base = base * (1 - shade) + shade * np.array(colour) * (1.1 - 0.4 * r2[..., None])
        out[t] = np.clip(np.round(base), 0, 255)
    return out


def write_mp4(frames: np.ndarray, fps: int, path: Path) -> None:
    from fractions import Fraction

    from codec.media.video import Video, VideoInfo, write

    info = VideoInfo(frames.shape[2], frames.shape[1], Fraction(fps), len(frames))
    write(Video(info, (f for f in frames)), path)


def cc0_photo(out: Path) -> None:
    """A CC0 photograph from a Debian wallpaper package, downscaled to 384x256."""
    with tempfile.TemporaryDirectory() as tmp:
        root = extract_packages(Path(tmp), ("lomiri-wallpapers-16.04",))
        (source,) = root.rglob("seeding_by_Clements_Engelhardt.jpg")
        image = Image.open(source).convert("RGB")
        image = image.resize((image.width // 5, image.height // 5), Image.Resampling.LANCZOS)
        left, top = (image.width - 384) // 2, (image.height - 256) // 2
        image.crop((left, top, left + 384, top + 256)).save(out, optimize=True)


if __name__ == "__main__":
    SAMPLES.mkdir(exist_ok=True)
    outputs = (
        SAMPLES / "mandelbrot_320x240.pgm",
        SAMPLES / "seeding_384x256.png",
        SAMPLES / "melody_22k.flac",
        SAMPLES / "orbits_160x96.mp4",
    )
    write_pgm(mandelbrot(320, 240), outputs[0])
    cc0_photo(outputs[1])
    write_flac(plucked_melody(), 22050, outputs[2])
    write_mp4(orbits(), 24, outputs[3])
    for out in outputs:
        print(f"wrote {out} ({out.stat().st_size} bytes)")

"""The README demo: encode and decode bundled samples with the CLI, print sizes and quality.

    python tools/demo.py            (``make demo`` runs this inside .venv)

1. the procedural clip samples/orbits_160x96.mp4 with the neural video codec, in the default
   hyper mode (quality 3) and in nerv mode (quality 1, 30 fitting epochs), decoded to .mkv;
2. the CC0 photo samples/seeding_384x256.png with the learned image codec (quality 6, the default);
3. the procedural samples/mandelbrot_320x240.pgm with the lossless raw kind;
4. the procedural samples/melody_22k.flac with the neural audio codec (RVQ, 6 kbps).
Outputs go to out/demo/ (ignored by git).
"""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
OUT = ROOT / "out" / "demo"
sys.path.insert(0, str(ROOT))  # the quality helpers read media with the package's readers


def run(*args: str) -> float:
    print("$ codec " + " ".join(args), flush=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "codec", *args], check=True)
    return time.perf_counter() - start


def psnr(a: Path, b: Path) -> float:
    x, y = (np.asarray(Image.open(p).convert("RGB"), dtype=np.float64) for p in (a, b))
    return 10 * math.log10(255**2 / max(np.mean((x - y) ** 2), 1e-10))


def audio_quality(a: Path, b: Path) -> tuple[float, float]:
    """(duration in s, SNR in dB) of decoded audio ``b`` against ``a``."""
    from codec.media.audio import open_input

    signals = []
    for path in (a, b):
        with open_input(path) as audio:
            signals.append(np.concatenate(list(audio.blocks()), axis=1).astype(np.float64))
            rate = audio.info.sample_rate
    x, y = signals
    return x.shape[1] / rate, 10 * math.log10(np.sum(x**2) / max(np.sum((x - y) ** 2), 1e-20))


def video_quality(a: Path, b: Path) -> tuple[int, int, int, float, float]:
    """(frames, width, height, duration in s, PSNR in dB over all frames) of ``b`` vs ``a``."""
    from codec.media.video import open_input

    clips = []
    for path in (a, b):
        with open_input(path) as video:
            clips.append(np.concatenate(list(video.segments(64))).astype(np.float64))
            fps = video.info.fps
    x, y = clips
    mse = max(np.mean((x - y) ** 2), 1e-10)
    return len(x), x.shape[2], x.shape[1], float(len(x) / fps), 10 * math.log10(255**2 / mse)


VIDEO_RUNS = {  # label: CLI options
    "hyper (default)": ["--quality", "3"],
    "nerv": ["--mode", "nerv", "--quality", "1", "--epochs", "30"],
}


def video_step() -> None:
    clip, clip_bin, clip_out = SAMPLES / "orbits_160x96.mp4", OUT / "clip.ncdc", OUT / "clip.mkv"
    for label, options in VIDEO_RUNS.items():
        t_enc = run("encode", str(clip), str(clip_bin), *options, "--force")
        t_dec = run("decode", str(clip_bin), str(clip_out), "--force")
        frames, width, height, seconds, quality = video_quality(clip, clip_out)
        size = clip_bin.stat().st_size
        print(f"video  {clip.name} ({frames} frames {width}x{height}, {seconds:.1f} s,"
              f" {clip.stat().st_size} bytes as H.264 CRF 12), {label} mode")  # fmt: skip
        print(f"       -> {size} bytes = {8 * size / seconds / 1000:.1f} kbps,"
              f" {8 * size / (frames * width * height):.3f} bpp, PSNR {quality:.2f} dB;"
              f" CLI encode {t_enc:.1f} s, decode {t_dec:.2f} s")  # fmt: skip


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    video_step()
    photo, photo_bin, photo_out = (
        SAMPLES / "seeding_384x256.png",
        OUT / "photo.ncdc",
        OUT / "photo.png",
    )
    t_enc = run("encode", str(photo), str(photo_bin), "--quality", "6", "--force")
    t_dec = run("decode", str(photo_bin), str(photo_out), "--force")
    raw, raw_bin, raw_out = SAMPLES / "mandelbrot_320x240.pgm", OUT / "raw.ncdc", OUT / "raw.pgm"
    run("encode", str(raw), str(raw_bin), "--kind", "raw", "--force")
    run("decode", str(raw_bin), str(raw_out), "--force")
    run("info", str(photo_bin))
    melody, melody_bin, melody_out = (
        SAMPLES / "melody_22k.flac",
        OUT / "melody.ncdc",
        OUT / "melody.wav",
    )
    t_aenc = run("encode", str(melody), str(melody_bin), "--bitrate", "6", "--force")
    t_adec = run("decode", str(melody_bin), str(melody_out), "--force")

    width, height = Image.open(photo).size
    size = photo_bin.stat().st_size
    print()
    print(f"image  {photo.name} ({width}x{height}, {photo.stat().st_size} bytes as PNG)")
    print(f"       -> {size} bytes = {8 * size / (width * height):.3f} bpp, "
          f"PSNR {psnr(photo, photo_out):.2f} dB; CLI encode {t_enc:.2f} s, decode {t_dec:.2f} s"
          " (including interpreter and model start-up)")  # fmt: skip
    identical = (
        hashlib.sha256(raw.read_bytes()).digest() == hashlib.sha256(raw_out.read_bytes()).digest()
    )
    n_in, n_out = raw.stat().st_size, raw_bin.stat().st_size
    print(f"raw    {raw.name}: {n_in} -> {n_out} bytes ({n_in / n_out:.2f}x), "
          f"lossless round trip {'identical' if identical else 'MISMATCH'}")  # fmt: skip
    seconds, snr = audio_quality(melody, melody_out)
    size = melody_bin.stat().st_size
    print(f"audio  {melody.name} ({seconds:.1f} s stereo, {melody.stat().st_size} bytes as FLAC)")
    print(f"       -> {size} bytes = {8 * size / seconds / 1000:.2f} kbps (nominal 6 per channel),"
          f" waveform SNR {snr:.2f} dB (the early model keeps spectra, not yet phase:"
          f" docs/audio.md); CLI encode {t_aenc:.2f} s, decode {t_adec:.2f} s")  # fmt: skip
    if not identical:
        sys.exit(1)


if __name__ == "__main__":
    main()

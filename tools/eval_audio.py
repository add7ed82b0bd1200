"""Audio codec evaluation: ours (RVQ at 1.5/3/4.5/6 kbps, FSQ at 6 kbps) vs Opus, same run.

    python tools/eval_audio.py [--out out/eval_audio] [--threads 2] [--memory-minutes 10]

Files: ../shared/data/audio/eval (speech_jfk.flac: 11 s, 44.1 kHz stereo; music_24k.wav: 20 s,
24 kHz mono; plus "music-wide", a made-up wide stereo image of the music: left the music,
right the music 0.25 s later at 0.8 gain, so that both mid and side get coded). Every codec
goes through real files: ours with ``codec.encode_file`` / ``codec.decode_file`` (our
container, wav output), Opus (libopus via PyAV, Ogg, 48 kHz,
VBR target 6/8/12 kbps) encoded and decoded back to the input's rate and channels.

Metrics, decoded 16-bit output vs the input: real kbps (file bytes * 8 / duration), SI-SDR
(dB, mean over channels), multi-scale mel distance (models/audio/spectral.py, mono downmix at
24 kHz), and for speech PESQ (wb, 16 kHz) and STOI (16 kHz), mono downmix. Encode and decode
real-time factors (audio seconds per wall second, torch and FFmpeg on ``--threads``).

Channel errors: the codes of each file (RVQ 6 kbps, FSQ) get each bit of their 10-bit
indices flipped with probability p (FSQ: the group index 0..999 of levels [8,5,5,5], taken
mod 1000 after the flip); the table gives mel distance and SI-SDR of the decoded audio.

Memory: encode + decode of a ``--memory-minutes`` file (music_24k looped) and of a 1-minute
one, each in a fresh process; peak RSS of both shows whether memory grows with duration.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import codec  # noqa: E402
from codec.media.audio import Audio, AudioInfo, open_input, write  # noqa: E402
from models.audio.network import SAMPLE_RATE  # noqa: E402
from models.audio.spectral import mel_distance  # noqa: E402
from models.audio.streaming import SegmentDecoder, SegmentEncoder  # noqa: E402
from models.audio.weights import load_weights  # noqa: E402

EVAL = ROOT.parent / "shared" / "data" / "audio" / "eval"
FILES = {"speech": EVAL / "speech_jfk.flac", "music": EVAL / "music_24k.wav"}
OURS = [("rvq", 1.5), ("rvq", 3.0), ("rvq", 4.5), ("rvq", 6.0), ("fsq", 6.0)]
OPUS_KBPS = (6, 8, 12)
FLIP_RATES = (0.0, 0.001, 0.01, 0.05)


def read(path: Path) -> tuple[np.ndarray, int]:
    """(C, n) float32 samples and the rate of ``path``."""
    with open_input(path) as audio:
        return np.concatenate(list(audio.blocks()), axis=1), audio.info.sample_rate


def resample(samples: np.ndarray, rate: int, new_rate: int, channels: int) -> np.ndarray:
    audio = Audio(AudioInfo(rate, samples.shape[0], samples.shape[1]), iter([samples]))
    return np.concatenate(list(audio.resampled(new_rate, channels)), axis=1)


def si_sdr(estimate: np.ndarray, target: np.ndarray) -> float:
    """Scale-invariant SDR in dB of two 1-D signals."""
    target = target.astype(np.float64) - target.mean()
    estimate = estimate.astype(np.float64) - estimate.mean()
    projection = np.dot(estimate, target) / max(np.dot(target, target), 1e-12) * target
    noise = estimate - projection
    return float(10 * np.log10(max(projection @ projection, 1e-12) / max(noise @ noise, 1e-12)))


def metrics(decoded: np.ndarray, reference: np.ndarray, rate: int, speech: bool) -> dict:
    n = min(decoded.shape[1], reference.shape[1])
    decoded, reference = decoded[:, :n], reference[:, :n]
    out = {
        "si_sdr": float(np.mean([si_sdr(d, r) for d, r in zip(decoded, reference, strict=True)]))
    }
    ours24, ref24 = (resample(x, rate, SAMPLE_RATE, 1) for x in (decoded, reference))
    m = min(ours24.shape[1], ref24.shape[1])
    out["mel"] = mel_distance(
        torch.from_numpy(ours24[:, :m]), torch.from_numpy(ref24[:, :m])
    ).item()
    if speech:
        from pesq import pesq
        from pystoi import stoi

        ours16, ref16 = (
            resample(x, rate, 16000, 1)[0].astype(np.float64) for x in (decoded, reference)
        )
        m = min(ours16.size, ref16.size)
        out["pesq"] = float(pesq(16000, ref16[:m], ours16[:m], "wb"))
        out["stoi"] = float(stoi(ref16[:m], ours16[:m], 16000, extended=False))
    return out


def run_ours(path: Path, mode: str, kbps: float, tmp: Path) -> tuple[int, np.ndarray, float, float]:
    """(bytes, decoded samples, encode s, decode s) through our files."""
    bin_path, wav_path = tmp / "ours.bin", tmp / "ours.wav"
    start = time.perf_counter()
    codec.encode_file(
        path, bin_path, mode=mode, bitrate=None if mode == "fsq" else kbps, force=True
    )
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    codec.decode_file(bin_path, wav_path, force=True)
    decode_s = time.perf_counter() - start
    return bin_path.stat().st_size, read(wav_path)[0], encode_s, decode_s


def run_opus(
    samples: np.ndarray, rate: int, kbps: int, tmp: Path
) -> tuple[int, np.ndarray, float, float]:
    import av

    channels = samples.shape[0]
    layout = "mono" if channels == 1 else "stereo"
    path = tmp / "opus.ogg"
    start = time.perf_counter()
    at48 = resample(samples, rate, 48000, channels)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libopus", rate=48000, layout=layout)
        stream.bit_rate = kbps * 1000
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(at48), format="fltp", layout=layout)
        frame.sample_rate = 48000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    decoded, opus_rate = read(path)
    decoded = resample(decoded, opus_rate, rate, channels)
    decode_s = time.perf_counter() - start
    return path.stat().st_size, decoded, encode_s, decode_s


def wide_stereo(tmp: Path) -> Path:
    """The music with a wide stereo image (right = left 0.25 s later, 0.8x) as a wav file."""
    music, rate = read(FILES["music"])
    left = music[0]
    stereo = np.stack([left, 0.8 * np.roll(left, rate // 4)])
    path = tmp / "music_wide.wav"
    write(Audio(AudioInfo(rate, 2, stereo.shape[1]), iter([stereo])), path)
    return path


def quality_rows(tmp: Path) -> list[dict]:
    rows = []
    for kind, path in {**FILES, "music-wide": wide_stereo(tmp)}.items():
        reference, rate = read(path)
        seconds = reference.shape[1] / rate
        runs = [(f"ours {m} {k:g}", m, k) for m, k in OURS] + [
            (f"opus {k}", "opus", k) for k in OPUS_KBPS
        ]
        for name, mode, kbps in runs:
            if mode == "opus":
                size, decoded, enc_s, dec_s = run_opus(reference, rate, kbps, tmp)
            else:
                size, decoded, enc_s, dec_s = run_ours(path, mode, kbps, tmp)
            row = {
                "file": kind,
                "codec": name,
                "nominal_kbps": kbps if mode != "fsq" else 5.98,
                "kbps": size * 8 / seconds / 1000,
                "encode_rtf": seconds / enc_s,
                "decode_rtf": seconds / dec_s,
                "round_trip_rtf": seconds / (enc_s + dec_s),
                **metrics(decoded, reference, rate, kind == "speech"),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def flipped(net, codes: np.ndarray, mode: str, p: float, rng: np.random.Generator) -> np.ndarray:
    """Flip every bit of the 10-bit code indices (FSQ: group indexes) with probability p."""
    index = net.fsq_pack(torch.from_numpy(codes)).numpy() if mode == "fsq" else codes
    index = index ^ ((rng.random((*index.shape, 10)) < p) @ (1 << np.arange(10)))
    if mode == "fsq":
        size = int(np.prod(net.cfg.fsq_levels))
        return net.fsq_unpack(torch.from_numpy(index % size)).numpy()
    return index


def robustness_rows() -> list[dict]:
    net = load_weights().network
    rows = []
    for kind, path in FILES.items():
        reference, rate = read(path)
        mono = resample(reference, rate, SAMPLE_RATE, 1)
        for mode, streams in (("rvq", 8), ("fsq", 32)):
            codes = SegmentEncoder(net, mode, streams).codes(mono)
            for p in FLIP_RATES:
                noisy = flipped(net, codes, mode, p, np.random.default_rng(0))
                out = SegmentDecoder(net, mode).samples(noisy)[:, : mono.shape[1]]
                mel = mel_distance(torch.from_numpy(out), torch.from_numpy(mono)).item()
                row = {
                    "file": kind,
                    "mode": mode,
                    "flip_p": p,
                    "mel": mel,
                    "si_sdr": si_sdr(out[0], mono[0]),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


# Peak RSS from /proc/self/status (VmHWM, of this process image only): getrusage's ru_maxrss
# keeps the parent's peak across fork + exec, so it reported this script's own ~1.6 GB.
_MEMORY_SCRIPT = """
import re, sys, time
sys.path.insert(0, {root!r})
import codec
start = time.perf_counter()
codec.encode_file({src!r}, {bin!r}, force=True)
codec.decode_file({bin!r}, {wav!r}, force=True)
with open("/proc/self/status") as status:
    peak_kb = re.search(r"VmHWM:\\s*(\\d+)", status.read()).group(1)
print(time.perf_counter() - start, peak_kb)
"""


def memory_rows(minutes: float, tmp: Path) -> list[dict]:
    music, rate = read(FILES["music"])
    rows = []
    for length in (1.0, minutes):
        reps = int(np.ceil(length * 60 * rate / music.shape[1]))
        samples = np.tile(music, reps)[:, : int(length * 60 * rate)]
        src = tmp / f"long_{length:g}.wav"
        write(Audio(AudioInfo(rate, 1, samples.shape[1]), iter([samples])), src)
        script = _MEMORY_SCRIPT.format(
            root=str(ROOT), src=str(src), bin=str(tmp / "l.bin"), wav=str(tmp / "l.wav")
        )
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        seconds, rss_kb = out.stdout.split()
        row = {
            "minutes": length,
            "encode_decode_s": float(seconds),
            "peak_rss_mb": int(rss_kb) / 1024,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def markdown(quality: list[dict], robust: list[dict], memory: list[dict]) -> str:
    lines = [
        "| file | codec | nominal kbps | real kbps | SI-SDR dB | mel dist | PESQ-wb | STOI"
        " | enc RTF | dec RTF | enc+dec RTF |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in quality:
        pesq = f"{r['pesq']:.2f}" if "pesq" in r else "-"
        stoi = f"{r['stoi']:.3f}" if "stoi" in r else "-"
        lines.append(
            f"| {r['file']} | {r['codec']} | {r['nominal_kbps']:g} | {r['kbps']:.2f} | "
            f"{r['si_sdr']:.2f} | {r['mel']:.3f} | {pesq} | {stoi} | "
            f"{r['encode_rtf']:.1f}x | {r['decode_rtf']:.1f}x | {r['round_trip_rtf']:.1f}x |"
        )
    lines += [
        "",
        "| file | bottleneck | bit-flip p | mel dist | SI-SDR dB |",
        "|---|---|---|---|---|",
    ]
    for r in robust:
        lines.append(
            f"| {r['file']} | {r['mode']} | {r['flip_p']:g} | {r['mel']:.3f} | {r['si_sdr']:.2f} |"
        )
    if memory:
        lines += ["", "| input minutes | encode+decode s | peak RSS MB |", "|---|---|---|"]
        for r in memory:
            lines.append(
                f"| {r['minutes']:g} | {r['encode_decode_s']:.1f} | {r['peak_rss_mb']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "eval_audio")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-minutes", type=float, default=10.0, help="0: skip")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    shipped = load_weights()  # loaded once, outside the timings
    with tempfile.TemporaryDirectory() as tmp:
        quality = quality_rows(Path(tmp))
        robust = robustness_rows()
        memory = memory_rows(args.memory_minutes, Path(tmp)) if args.memory_minutes else []
    result = {
        "weights_id": shipped.weights_id,
        "threads": args.threads,
        "own_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "quality": quality,
        "robustness": robust,
        "memory": memory,
    }
    (args.out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    table = markdown(quality, robust, memory)
    (args.out / "results.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()

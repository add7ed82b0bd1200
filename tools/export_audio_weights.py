"""Export a training run of the audio codec as shipped weights (network + code priors).

    python tools/export_audio_weights.py --run ~/.cache/codec/run_audio \
        --data ~/.cache/codec/audio_train [--out models/weights/audio-v1.safetensors]

The code priors (models/audio/prior.py) are fitted on codes of the *training* files (the
same holdout rule as tools/train_audio.py; audio/eval is never read): ``--minutes`` of
10-second segments drawn evenly from every training file, coded through RVQ (all 8 levels)
and FSQ. RVQ context classes are k-means clusters (16 per level) of each level's codebook
vectors. Prints nominal vs ideal entropy-coded kbps on the held-out files, writes the
weights and their MANIFEST.json entry.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from train_audio import load_clips  # noqa: E402

from models.audio.network import AudioConfig, AudioNetwork  # noqa: E402
from models.audio.prior import CodePrior, fit_prior  # noqa: E402
from models.audio.weights import save_weights  # noqa: E402
from models.shipped import record_in_manifest  # noqa: E402

SEGMENT = 10 * 24000
RVQ_CLASSES = 16


def segments(clips: list[np.ndarray], minutes: float) -> list[np.ndarray]:
    """About ``minutes`` of 10-second float32 segments spread evenly over ``clips``."""
    per_clip = max(1, int(minutes * 6 / max(1, len(clips))))
    out = []
    for clip in clips:
        starts = np.linspace(0, max(0, len(clip) - SEGMENT), per_clip).astype(int)
        out += [clip[s : s + SEGMENT].astype(np.float32) / 32768.0 for s in np.unique(starts)]
    return [s for s in out if len(s) >= 24000]


@torch.no_grad()
def code_segments(net: AudioNetwork, segs: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    codes: dict[str, list[np.ndarray]] = {"rvq": [], "fsq": []}
    for seg in segs:
        seg = seg[: len(seg) // net.hop * net.hop]
        latent = net.encode_latent(torch.from_numpy(seg)[None, None])
        codes["rvq"].append(net.rvq_codes(latent, net.cfg.codebooks)[0].numpy())
        codes["fsq"].append(net.fsq_codes(latent)[0].numpy())
    return codes


def rvq_classes(net: AudioNetwork) -> np.ndarray:
    """(levels, codebook_size) k-means cluster of every codebook vector, per level."""
    from scipy.cluster.vq import kmeans2

    books = net.rvq.codebooks.detach().numpy().astype(np.float64)
    return np.stack([kmeans2(b, RVQ_CLASSES, seed=0, minit="++")[1] for b in books])


def fsq_classes(net: AudioNetwork) -> np.ndarray:
    alphabet = net.alphabet("fsq")
    classes = np.zeros((len(alphabet), max(alphabet)), dtype=np.int64)
    for s, size in enumerate(alphabet):
        classes[s, :size] = np.arange(size)
    return classes


def kbps(prior: CodePrior, codes: list[np.ndarray], streams: int) -> float:
    frames = sum(len(c) for c in codes)
    return sum(prior.bits(c[:, :streams]) for c in codes) / frames * 75 / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=Path.home() / ".cache/codec/run_audio")
    parser.add_argument("--data", type=Path, default=Path.home() / ".cache/codec/audio_train")
    parser.add_argument("--out", type=Path, default=ROOT / "models/weights/audio-v1.safetensors")
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--holdout", type=int, default=20)
    args = parser.parse_args()
    state = torch.load(args.run / "latest.pt", weights_only=True)
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in state["config"].items()}
    net = AudioNetwork(AudioConfig(**config))
    net.load_state_dict(state["model"])
    net.eval()
    # what the shipped file will hold: float16 weights
    for p in net.parameters():
        p.data = p.data.half().float()
    for layer in net.rvq.layers:
        layer._codebook.embed.data = layer._codebook.embed.data.half().float()
    train, val = load_clips(args.data, args.holdout)
    codes = code_segments(net, segments(train["speech"] + train["music"], args.minutes))
    held = code_segments(net, segments(val, 10))
    priors = {
        "rvq": fit_prior(codes["rvq"], net.alphabet("rvq"), rvq_classes(net)),
        "fsq": fit_prior(codes["fsq"], net.alphabet("fsq"), fsq_classes(net)),
    }
    report = {}
    for levels in (2, 4, 6, 8):
        report[f"rvq{levels}"] = (0.75 * levels, kbps(priors["rvq"], held["rvq"], levels))
    n_fsq = len(net.alphabet("fsq"))
    report["fsq"] = (75 * np.log2(1000) * 8 / 1000, kbps(priors["fsq"], held["fsq"], n_fsq))
    for name, (nominal, real) in report.items():
        print(f"{name}: nominal {nominal:.2f} kbps, entropy-coded {real:.2f} kbps (held out)")
    name = args.out.stem
    save_weights(args.out, net, priors, name)
    training = {
        "data": "shared/data/audio/train + klettres-data + wesnoth-1.16-music "
        "(tools/fetch_audio_data.py), every 20th file held out",
        "steps": state["step"],
        "recipe": "tools/train_audio.py (batch 8, 0.64 s crops, Adam 3e-4, multi-scale mel "
        "loss + L1 waveform + commitment, RVQ half / FSQ half of each batch)",
        "network": net.cfg.as_dict(),
        "prior_minutes": args.minutes,
        "heldout_kbps": {k: round(v[1], 3) for k, v in report.items()},
    }
    print(f"wrote {record_in_manifest(args.out, 'audio', training)}")


if __name__ == "__main__":
    main()

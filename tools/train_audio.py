"""Train the audio codec network (encoder, decoder, RVQ and FSQ bottlenecks together).

    python tools/train_audio.py --data ~/.cache/codec/audio_train --run ~/.cache/codec/run_audio \
        [--minutes 120] [--batch 8] [--seconds 0.64] [--lr 3e-4] [--threads 2]

Data: the 24 kHz int16 .npy files written by tools/fetch_audio_data.py
(shared/data/audio/train, klettres voices, wesnoth music) -- never audio/eval. Every
``--holdout``-th file is kept out of training and gives the validation numbers in the log.
Batches are half speech, half music; each crop gets a random gain; near-silent crops are
redrawn.

Each step encodes the batch, sends the first half through the RVQ (quantizer dropout picks
2/4/6/8 levels) and the second half through FSQ, decodes both and minimises the multi-scale
mel distance (models/audio/spectral.py) + ``--wave-weight`` x L1 waveform error (keeps the
phase, hence SI-SDR) + the RVQ commitment loss. No adversarial loss.
The run folder holds ``latest.pt`` (model, optimizer, step; rewritten atomically every
--save-every seconds and at the end) and ``train.log``; re-running the same command resumes
(SIGTERM saves and stops).
``--init`` starts from exported weights (e.g. models/weights/audio-v1.safetensors).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.audio.network import AudioConfig, AudioNetwork  # noqa: E402
from models.audio.spectral import mel_distance  # noqa: E402
from tools.run_state import save_run_state, stop_on_sigterm  # noqa: E402

SILENCE_RMS = 3e-3


def load_clips(folder: Path, holdout: int) -> tuple[dict[str, list[np.ndarray]], list[np.ndarray]]:
    """({'speech': [...], 'music': [...]} training arrays, validation arrays) as int16."""
    paths = sorted(folder.glob("*.npy"))
    if not paths:
        raise SystemExit(f"no .npy files in {folder}: run tools/fetch_audio_data.py first")
    if any("eval" in p.name or "jfk" in p.name for p in paths):
        raise SystemExit("refusing to train on audio/eval files")
    train: dict[str, list[np.ndarray]] = {"speech": [], "music": []}
    val = []
    for i, path in enumerate(paths):
        samples = np.load(path)
        if i % holdout == holdout - 1:
            val.append(samples)
        else:
            train["music" if "music" in path.stem or "wesnoth" in path.stem else "speech"].append(
                samples
            )
    return train, val


def random_crop(clips: list[np.ndarray], length: int, rng: random.Random) -> np.ndarray:
    weights = [len(c) for c in clips]
    for _ in range(8):
        clip = rng.choices(clips, weights)[0]
        start = rng.randrange(max(1, len(clip) - length))
        crop = clip[start : start + length].astype(np.float32) / 32768.0
        if len(crop) == length and np.sqrt(np.mean(crop**2)) > SILENCE_RMS:
            break
    crop = np.pad(crop, (0, length - len(crop)))
    gain = 10 ** rng.uniform(-0.6, 0.3) * 0.1 / max(np.sqrt(np.mean(crop**2)), SILENCE_RMS)
    return np.clip(crop * min(gain, 1.0 / max(np.abs(crop).max(), 1e-6)), -1.0, 1.0)


def random_batch(train: dict, batch: int, length: int, rng: random.Random) -> torch.Tensor:
    crops = [random_crop(train["speech" if i % 2 else "music"], length, rng) for i in range(batch)]
    return torch.from_numpy(np.stack(crops))[:, None, :]


def forward(net: AudioNetwork, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstruction of ``wave`` (first half through RVQ, second through FSQ) and the
    commitment loss."""
    latent = net.encode_latent(wave).transpose(1, 2)
    half = latent.shape[0] // 2
    rvq_out, _, commit = net.rvq(latent[:half])
    fsq_out, _ = net.fsq(latent[half:])
    quantized = torch.cat([rvq_out, fsq_out]).transpose(1, 2)
    return net.decode_latent(quantized), commit.sum()


@torch.no_grad()
def validate(net: AudioNetwork, val: list[np.ndarray], length: int) -> dict[str, float]:
    """Mel distance on fixed validation crops through RVQ at 2/4/8 levels and FSQ."""
    rng = random.Random(0)
    wave = random_batch({"speech": val, "music": val}, 8, length, rng)
    net.eval()
    latent = net.encode_latent(wave)
    scores = {}
    for levels in (2, 4, 8):
        out = net.decode_latent(net.rvq_latent(net.rvq_codes(latent, levels)))
        scores[f"rvq{levels}"] = mel_distance(out, wave).item()
    out = net.decode_latent(net.fsq_latent(net.fsq_codes(latent)))
    scores["fsq"] = mel_distance(out, wave).item()
    net.train()
    return scores


def save(path: Path, net: AudioNetwork, optimizer: torch.optim.Optimizer, step: int) -> None:
    """Write the run state to ``path`` atomically (temp file + rename)."""
    state = {
        "model": net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "config": net.cfg.as_dict(),
    }
    save_run_state(path, state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path.home() / ".cache/codec/audio_train")
    parser.add_argument("--run", type=Path, default=Path.home() / ".cache/codec/run_audio")
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=0.64)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--wave-weight", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--holdout", type=int, default=20)
    parser.add_argument("--save-every", type=float, default=300.0)
    parser.add_argument("--val-every", type=int, default=250)
    parser.add_argument("--init", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)

    def say(text: str) -> None:
        print(text, flush=True)
        with open(args.run / "train.log", "a") as log:
            log.write(text + "\n")

    train, val = load_clips(args.data, args.holdout)
    latest = args.run / "latest.pt"
    if latest.exists():
        state = torch.load(latest, weights_only=True)
        net = AudioNetwork(AudioConfig(**state["config"]))
        net.load_state_dict(state["model"])
    else:
        state = None
        net = AudioNetwork(AudioConfig(channels=args.channels))
        if args.init:
            from safetensors.numpy import load_file

            from models.audio.weights import network_state, restore_codebook_state

            net.load_state_dict(network_state(load_file(str(args.init))), strict=False)
            restore_codebook_state(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.5, 0.9))
    step = 0
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        for group in optimizer.param_groups:
            group["lr"] = args.lr
    cfg = net.cfg.as_dict()
    say(f"start step {step}, {sum(p.numel() for p in net.parameters())} parameters, {cfg}")
    length = int(round(args.seconds * 24000 / net.hop)) * net.hop
    rng = random.Random(step)
    torch.manual_seed(step)
    started = last_save = time.time()
    running = []
    stop = stop_on_sigterm()
    while time.time() - started < args.minutes * 60 and not stop:
        wave = random_batch(train, args.batch, length, rng)
        out, commit = forward(net, wave)
        mel = mel_distance(out, wave)
        loss = mel + args.wave_weight * (out - wave).abs().mean() + commit
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        optimizer.step()
        step += 1
        running.append((mel.item(), commit.item()))
        if step % 50 == 0:
            m, c = np.mean(running, axis=0)
            say(f"step {step} mel {m:.4f} commit {c:.4f} ({time.time() - started:.0f} s)")
            running = []
        if step % args.val_every == 0:
            scores = validate(net, val, length * 4)
            say(f"val step {step} " + " ".join(f"{k} {v:.4f}" for k, v in scores.items()))
        if time.time() - last_save > args.save_every:
            save(latest, net, optimizer, step)
            last_save = time.time()
    save(latest, net, optimizer, step)
    say(f"stopped at step {step}")


if __name__ == "__main__":
    main()

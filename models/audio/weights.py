"""Shipped audio weights (models/weights/audio-v1.safetensors): network + both code priors.

Tensors: ``net.<name>`` float16 copies of the network's parameters and the RVQ codebooks
(the EMA statistics used only in training are left out); ``prior.<rvq|fsq>.<rows|classes|
offsets|alphabet>`` int32/int64 arrays of :class:`models.audio.prior.CodePrior`.
String metadata: ``name`` (weights id = ``name@<first 12 hex digits of the SHA-256>``) and
``config`` (JSON of :class:`models.audio.network.AudioConfig`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codec.errors import InputError
from models.audio.prior import CodePrior
from models.shipped import prefixed_state, safetensors_metadata, weights_id

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "audio-v1.safetensors"
_TRAINING_ONLY = ("embed_avg", "cluster_size", "initted")
_PRIOR_FIELDS = ("rows", "classes", "offsets", "alphabet")


@dataclass(frozen=True)
class ShippedAudio:
    network: object  # models.audio.network.AudioNetwork, eval mode
    priors: dict[str, CodePrior]
    weights_id: str


def network_tensors(state: dict) -> dict:
    """The inference tensors of a network state dict, as float16 numpy arrays."""
    return {
        f"net.{k}": v.detach().cpu().numpy().astype(np.float16)
        for k, v in state.items()
        if v.is_floating_point() and not k.endswith(_TRAINING_ONLY)
    }


def save_weights(path: Path, net, priors: dict[str, CodePrior], name: str) -> None:
    from safetensors.numpy import save_file

    tensors = network_tensors(net.state_dict())
    for mode, prior in priors.items():
        for field in _PRIOR_FIELDS:
            tensors[f"prior.{mode}.{field}"] = np.ascontiguousarray(getattr(prior, field))
    config = json.dumps(net.cfg.as_dict())
    save_file(tensors, str(path), metadata={"name": name, "config": config})


def network_state(arrays: dict[str, np.ndarray]) -> dict:
    """float32 torch tensors of the network among the arrays of a weights file (for
    ``load_state_dict(strict=False)``: the training-only statistics are not shipped)."""
    return prefixed_state(arrays, "net")


def restore_codebook_state(net) -> None:
    """After loading shipped weights: mark the RVQ codebooks as initialised (no k-means on
    the first batch) and restart their EMA statistics from the codebooks themselves."""
    for layer in net.rvq.layers:
        book = layer._codebook
        book.initted.fill_(True)
        book.cluster_size.fill_(1.0)
        book.embed_avg.copy_(book.embed)


@functools.cache
def load_weights(path: Path = WEIGHTS) -> ShippedAudio:
    """Network (eval mode, float32) and priors of ``path``; cached, the file is read once."""
    from safetensors.numpy import load

    from models.audio.network import AudioConfig, AudioNetwork, inference_state

    if not path.is_file():
        raise InputError(f"audio weights missing: {path} (reinstall the package)")
    blob = path.read_bytes()
    metadata = safetensors_metadata(blob)
    arrays = load(blob)
    config = json.loads(metadata["config"])
    cfg = AudioConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    net = AudioNetwork(cfg, trainable_quantizers=False)
    try:
        net.load_state_dict(inference_state(network_state(arrays), cfg))
    except (KeyError, RuntimeError) as exc:
        raise InputError(f"audio weights {path.name} do not match the network ({exc})") from None
    priors = {
        mode: CodePrior(*(arrays[f"prior.{mode}.{f}"] for f in _PRIOR_FIELDS))
        for mode in ("rvq", "fsq")
    }
    return ShippedAudio(net.eval(), priors, weights_id(metadata["name"], blob))

"""Shipped hyper-mode weights (models/weights/video-hyper-v1.safetensors).

Tensors: ``hyper.<name>`` (the hypernetwork, encoder side) and ``hypo.<name>`` (the shared
hyponet layers, decoder side), float16. String metadata: ``name`` (weights id =
``name@<first 12 hex digits of the SHA-256>``) and ``config`` (JSON of
:class:`models.video.hyper_network.HyperConfig`). Loading casts to float32, so every machine
runs the same decoder weights.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codec.errors import InputError
from models.shipped import prefixed_state, safetensors_metadata, weights_id

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "video-hyper-v1.safetensors"


@dataclass(frozen=True)
class ShippedHyper:
    hyper: object  # models.video.hyper_network.HyperNetwork, eval mode
    hypo: object  # models.video.hyper_network.Hyponet, eval mode
    weights_id: str


def save_weights(path: Path, hyper, hypo, name: str) -> None:
    """Write both networks' parameters as float16 with the config and ``name``."""
    from safetensors.numpy import save_file

    tensors = {}
    for prefix, net in (("hyper", hyper), ("hypo", hypo)):
        for key, value in net.state_dict().items():
            tensors[f"{prefix}.{key}"] = value.detach().cpu().numpy().astype(np.float16)
    config = json.dumps(hypo.config.as_dict())
    save_file(tensors, str(path), metadata={"name": name, "config": config})


def networks_from(arrays: dict[str, np.ndarray], config_json: str):
    """(HyperNetwork, Hyponet) in eval mode, float32, from a weights file's arrays."""
    from models.video.hyper_network import HyperConfig, HyperNetwork, Hyponet

    fields = json.loads(config_json)
    config = HyperConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
    nets = HyperNetwork(config), Hyponet(config)
    for prefix, net in zip(("hyper", "hypo"), nets, strict=True):
        net.load_state_dict(prefixed_state(arrays, prefix))
        net.eval().requires_grad_(False)
    return nets


@functools.cache
def load_weights(path: Path = WEIGHTS) -> ShippedHyper:
    """The shipped networks (cached: the file is read once per process)."""
    from safetensors.numpy import load

    if not path.is_file():
        raise InputError(f"video hyper weights missing: {path} (reinstall the package)")
    blob = path.read_bytes()
    metadata = safetensors_metadata(blob)
    try:
        hyper, hypo = networks_from(load(blob), metadata["config"])
    except (KeyError, RuntimeError, TypeError) as error:
        raise InputError(f"video hyper weights {path.name} do not match the network") from error
    return ShippedHyper(hyper, hypo, weights_id(metadata["name"], blob))

"""Inference model of the image codec, loaded from a shipped safetensors file.

Float parts (may differ in the last bits between machines, never decide a probability):
``g_a``, ``h_a`` (encoder only) and ``g_s`` (decoder, latents -> pixels), plus the gain units.
Integer parts (bit-exact everywhere): the hyper-synthesis ``h_s`` that predicts means (in
1/16 steps) and scale indexes into ``gaussian-v1``, one context network per channel group
(``context.<k>.*``, absent for a hyperprior-only model: then there is one group and the
hyper parameters are used as they are), and the factorized prior of the hyper-latent as
integer tables.

Weights file: safetensors with float16 transforms (``g_a.*``, ``h_a.*``, ``g_s.*``), float32
``gain`` / ``inverse_gain`` (levels, M), the integer network ``h_s.*`` and the hyper-latent
tables ``z_tables.frequencies`` (Z, K) int32 zero-padded, ``z_tables.lengths`` (Z,),
``z_tables.offsets`` (Z,). Header metadata holds the widths, the group sizes, the number of
residual blocks per transform stage at 1/4 and 1/8 resolution (``blocks``, absent = 0) and
at 1/2 resolution (``half_blocks``, absent = 0), the blocks only g_a has on top of those
(``g_a_extra_blocks``, ``g_a_extra_half_blocks``, absent = 0), and the name.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from codec.errors import InputError
from entropy import IndexedFamily, TableSet
from entropy.tables import DEFAULT_PRECISION
from models.image.integer import IntegerNetwork
from models.image.network import (
    BLOCK_COUNTS,
    SCALE_LEVELS,
    ImageNetwork,
    NetworkConfig,
    transform_reach,
)
from models.image.subpixel import inference_synthesis
from models.image.tiling import SMALL_HALO, tiled

HYPER_INPUT_BOUND = 4096


def network_config(metadata: dict[str, str]) -> NetworkConfig:
    """The network config a weights file's header metadata describes (groups None for a
    single group, i.e. a hyperprior-only model)."""
    m = int(metadata["m"])
    groups = tuple(int(g) for g in metadata.get("groups", str(m)).split(","))
    return NetworkConfig(
        n=int(metadata["n"]),
        m=m,
        z=int(metadata["z"]),
        groups=groups if len(groups) > 1 else None,
        **{count: int(metadata.get(count, 0)) for count in BLOCK_COUNTS},
    )


class ImageModel:
    """The shipped model: float transforms + integer entropy-parameter path."""

    def __init__(self, tensors: dict[str, torch.Tensor], metadata: dict[str, str], name: str):
        config = network_config(metadata)
        self.config = config
        #: Latent positions (16 pixels) of context around a tile of g_a and of g_s.
        self.analysis_halo = -(-transform_reach(config, analysis=True) // 16)
        self.synthesis_halo = -(-transform_reach(config, analysis=False) // 16)
        self.groups = config.groups or (config.m,)
        self.context = [
            IntegerNetwork.from_tensors(tensors, f"context.{k}")
            for k in range(len(self.groups))
            if f"context.{k}.shape" in tensors
        ]
        if self.context and len(self.context) != len(self.groups):
            raise ValueError("weights file has context networks for only some groups")
        self.name = name
        groups = self.groups if self.context else None
        network = ImageNetwork(replace(config, groups=groups))
        missing = network.load_state_dict(float_training_state(tensors), strict=False).missing_keys
        needed = [k for k in missing if k.split(".")[0] in ("g_a", "h_a", "g_s")]
        if needed:
            raise ValueError(f"weights file lacks {needed[:3]}")
        self._refinable = not missing  # the file carries float copies of every part
        self.network = network.eval().requires_grad_(False)
        self._g_s = inference_synthesis(network.g_s).eval()
        self.h_s = IntegerNetwork.from_tensors(tensors, "h_s")
        lengths = tensors["z_tables.lengths"].tolist()
        frequencies = tensors["z_tables.frequencies"].numpy().astype(np.int64)
        rows = tuple(frequencies[c, :length] for c, length in enumerate(lengths))
        self.z_family = IndexedFamily(
            TableSet(rows, tensors["z_tables.offsets"].numpy(), DEFAULT_PRECISION, "z")
        )

    @classmethod
    def load(cls, path: Path) -> ImageModel:
        from safetensors import safe_open

        tensors = {}
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata()
            for key in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                tensors[key] = f.get_tensor(key)
        return cls(tensors, metadata, metadata["name"])

    def _rate(self, rate: float) -> torch.Tensor:
        return torch.tensor([float(rate)])

    @torch.no_grad()
    def analysis(
        self, x: torch.Tensor, rate: float, on_tile: Callable[[], object] | None = None
    ) -> torch.Tensor:
        """x: (1,3,H,W) in [0,1], H, W multiples of 64 -> gained latent y (1,M,H/16,W/16);
        large images tile by tile (models.image.tiling), calling ``on_tile`` after each."""
        gain, _ = self.network.gains(self._rate(rate))
        return tiled(self.network.g_a, x, 16, 1, self.analysis_halo, on_tile=on_tile) * gain

    @torch.no_grad()
    def hyper_analysis(self, y: torch.Tensor) -> torch.Tensor:
        """Gained latent y (1,M,h,w) -> integer-valued hyper-latent z (1,Z,h/4,w/4), float32."""
        z = tiled(self.network.h_a, y, 4, 1, SMALL_HALO, latents_per_unit=4)
        return torch.round(z).clamp(-HYPER_INPUT_BOUND, HYPER_INPUT_BOUND)

    def refine(
        self, x: torch.Tensor, y: torch.Tensor, rate: float, steps: int, progress: bool = False
    ) -> torch.Tensor:
        """``steps`` steps of latent refinement (models.image.refine) of the gained latent y
        of x, with a progress bar if ``progress`` -> refined y (same shape)."""
        from models.image.refine import refine_latent

        return refine_latent(self.float_network(), x, y, rate, steps, progress)

    def float_network(self) -> ImageNetwork:
        """The whole model in float (eval mode, frozen), from the float copies the weights
        file carries for training (the transforms above run from the same network)."""
        if not self._refinable:
            raise InputError(f"weights {self.name} carry no float copies to refine with")
        return self.network

    @torch.no_grad()
    def hyper_parameters(self, z_hat: torch.Tensor) -> torch.Tensor:
        """Integer hyper-synthesis: z_hat (1,Z,h,w) integers -> (1,2M,4h,4w) float64 integers:
        means in 1/MEAN_STEPS steps, then scale indexes."""
        return tiled(self.h_s, z_hat, 1, 4, SMALL_HALO, latents_per_unit=4)

    @torch.no_grad()
    def group_parameters(
        self, k: int, hyper_k: torch.Tensor, previous: torch.Tensor, anchors: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Integer means (1/16 steps) and scale indexes of group k, each (1,C_k,h,w).

        hyper_k: (1,2C_k,h,w) from :meth:`hyper_parameters`; previous: decoded earlier
        groups and anchors: decoded anchors of group k (zero elsewhere), both latent * 16.
        """
        size = hyper_k.shape[1] // 2
        params = hyper_k
        if self.context:
            inputs = torch.cat([hyper_k, previous, anchors], dim=1)
            params = hyper_k + tiled(self.context[k], inputs, 1, 1, SMALL_HALO)
        means = params[:, :size].clamp(-(2.0**20), 2.0**20)
        return means, params[:, size:].clamp(0, SCALE_LEVELS - 1)

    @torch.no_grad()
    def synthesis(
        self, y_hat: torch.Tensor, rate: float, on_tile: Callable[[], object] | None = None
    ) -> torch.Tensor:
        """y_hat: (1,M,h,w) gained latents -> (1,3,16h,16w) float in about [0,1].

        oneDNN convolutions round differently with different thread counts; the native
        im2col + GEMM path gives the same pixels with 1 or N threads. The wide transposed
        convolutions run in their sub-pixel form (models.image.subpixel); large images run
        tile by tile (models.image.tiling), calling ``on_tile`` after each.
        """
        _, inverse_gain = self.network.gains(self._rate(rate))
        with warnings.catch_warnings():  # torch warns about TF32 on Intel GPUs when toggling
            warnings.simplefilter("ignore", UserWarning)
            with torch.backends.mkldnn.flags(enabled=False):
                y = y_hat.float() * inverse_gain
                return tiled(self._g_s, y, 1, 16, self.synthesis_halo, on_tile=on_tile)


def float_training_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The float32 state dict of :class:`ImageNetwork` held by a weights file's tensors:
    the transforms and gains as they are, the rest from their ``train.*`` copies."""
    state = {}
    for key, value in tensors.items():
        if key.startswith("train."):
            state[key.removeprefix("train.")] = value.float()
        elif key.split(".")[0] in ("g_a", "h_a", "g_s", "gain", "inverse_gain"):
            state[key] = value.float()
    return state

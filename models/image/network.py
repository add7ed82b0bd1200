"""Float network of the image codec (training view).

Dataflow (x: (B,3,H,W) in [0,1], H and W multiples of 64)::

    x -> g_a -> y (B,M,H/16,W/16) -> * gain[rate] -> y_g
    y_g -> h_a -> z (B,Z,H/64,W/64) -> round -> z_hat        [factorized prior, EntropyBottleneck]
    z_hat -> h_s -> hyper (B,2M,H/16,W/16) -> (mean, scale index) per latent
    y_hat = round(y_g - mean) + mean -> * inv_gain[rate] -> g_s -> x_hat

Scales are predicted as *scale-table index units*: std = 0.11 * exp(index * STEP) with the
entropy layer's ``gaussian-v1`` table (160 levels, 0.11..256), so the integer inference path
only has to round them. Rate levels are gain units (Cui et al., "Asymmetric gained deep image
compression"): one model, one (M,) gain vector per lambda, geometric interpolation between
neighbouring levels for intermediate rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from models.image.compressai_parts import compressai_module

#: Rate-distortion trade-offs of the rate levels (loss = rate_bpp + lambda * 255^2 * MSE).
LAMBDAS = (0.00048, 0.00093, 0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483, 0.0932)
SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 256.0, 160
SCALE_STEP = math.log(SCALE_MAX / SCALE_MIN) / (SCALE_LEVELS - 1)
LIKELIHOOD_BOUND = 1e-9
#: Fixed point of predicted means in the integer path: one step is 1/MEAN_STEPS latent units.
MEAN_STEPS = 16


#: NetworkConfig's residual block counts (the fields a run can grow).
BLOCK_COUNTS = ("blocks", "half_blocks", "g_a_extra_blocks", "g_a_extra_half_blocks")


@dataclass(frozen=True)
class NetworkConfig:
    """Widths: n (transforms), m (latent channels), z (hyper-latent channels); ``blocks``:
    residual bottleneck blocks per transform stage at 1/4 and 1/8 resolution;
    ``half_blocks``: blocks in the stage at 1/2 resolution; ``g_a_extra_blocks`` and
    ``g_a_extra_half_blocks``: blocks that only the analysis transform g_a has on top of
    those (encoder capacity that costs the decoder nothing)."""

    n: int = 128
    m: int = 192
    z: int = 128
    levels: int = len(LAMBDAS)
    groups: tuple[int, ...] | None = None  # channel group sizes; None = hyperprior only
    blocks: int = 0
    half_blocks: int = 0
    g_a_extra_blocks: int = 0
    g_a_extra_half_blocks: int = 0

    @classmethod
    def from_run(cls, config: dict) -> NetworkConfig:
        """The config of a run state's ``config`` dict (n, optional groups and block
        counts)."""
        groups = config.get("groups")
        return cls(
            n=config["n"],
            groups=tuple(groups) if groups else None,
            **{count: config.get(count, 0) for count in BLOCK_COUNTS},
        )

    def run_config(self) -> dict:
        """The run state's ``config`` dict of this config (inverse of :meth:`from_run`)."""
        return {
            "n": self.n,
            "groups": list(self.groups) if self.groups else None,
            **self.block_counts(),
        }

    def block_counts(self) -> dict[str, int]:
        """{field: count} of the residual block counts (BLOCK_COUNTS)."""
        return {count: getattr(self, count) for count in BLOCK_COUNTS}


def _conv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


def _deconv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(
        cin, cout, k, stride=stride, padding=k // 2, output_padding=stride - 1
    )


class BottleneckBlock(nn.Module):
    """Residual bottleneck block (ELIC's transform block): x + 1x1(relu(3x3(relu(1x1(x)))))
    with a channel bottleneck of n/2; (B,n,H,W) -> (B,n,H,W).

    The last 1x1 convolution starts at zero, so a new block is the identity and can be added
    to a trained transform without changing what it computes.
    """

    def __init__(self, n: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(n, n // 2, 1)
        self.mix = nn.Conv2d(n // 2, n // 2, 3, padding=1)
        self.expand = nn.Conv2d(n // 2, n, 1)
        nn.init.zeros_(self.expand.weight)
        nn.init.zeros_(self.expand.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inner = torch.relu(self.mix(torch.relu(self.reduce(x))))
        return x + self.expand(inner)


def transform_layers(config: NetworkConfig) -> tuple[nn.Sequential, nn.Sequential]:
    """(g_a, g_s) of a config: four 5x5 stride-2 (de)convolutions with GDN/IGDN,
    ``config.blocks`` bottleneck blocks after the layers that leave 1/4 and 1/8 resolution
    and ``config.half_blocks`` after the layer that leaves 1/2 resolution; g_a has
    ``config.g_a_extra_blocks`` and ``config.g_a_extra_half_blocks`` more."""
    gdn = compressai_module("layers").GDN
    n, m = config.n, config.m

    def blocks(count: int = config.blocks) -> list[nn.Module]:
        return [BottleneckBlock(n) for _ in range(count)]

    analysis_blocks = config.blocks + config.g_a_extra_blocks
    g_a = nn.Sequential(
        _conv(3, n), gdn(n), *blocks(config.half_blocks + config.g_a_extra_half_blocks),
        _conv(n, n), gdn(n), *blocks(analysis_blocks),
        _conv(n, n), gdn(n), *blocks(analysis_blocks),
        _conv(n, m),
    )  # fmt: skip
    g_s = nn.Sequential(
        _deconv(m, n), gdn(n, inverse=True), *blocks(),
        _deconv(n, n), gdn(n, inverse=True), *blocks(),
        _deconv(n, n), gdn(n, inverse=True), *blocks(config.half_blocks),
        _deconv(n, 3),
    )  # fmt: skip
    return g_a, g_s


def transform_reach(config: NetworkConfig, analysis: bool) -> int:
    """Receptive radius in pixels of g_a (``analysis``) or of g_s: how far from a latent
    position the pixels it depends on (g_a) or that depend on it (g_s) can lie.

    A 5x5 stride-2 convolution reaches 2 of its input positions, its transposed form 2 of its
    output positions, a bottleneck block 1 position (its 3x3 convolution); a position is 1, 2,
    4, 8 or 16 pixels at full, 1/2, ..., 1/16 resolution. Both transforms add up to
    2 + 4 + 8 + 16 for the four (de)convolutions, 8 + 4 per block pair at 1/8 and 1/4
    resolution and 2 per block at 1/2 resolution (g_a's extra blocks included for g_a).
    """
    blocks, half_blocks = config.blocks, config.half_blocks
    if analysis:
        blocks += config.g_a_extra_blocks
        half_blocks += config.g_a_extra_half_blocks
    return 30 + 12 * blocks + 2 * half_blocks


def _layer_labels(layers: nn.Sequential) -> list[tuple[int, int]]:
    """(non-block layers before it, position among the blocks that follow that layer) for each
    layer: the same label names the same layer in transforms with more blocks."""
    labels, base, block = [], 0, 0
    for layer in layers:
        if type(layer) is BottleneckBlock:
            block += 1
        else:
            base, block = base + 1, 0
        labels.append((base, block))
    return labels


def grown_state(state: dict[str, torch.Tensor], old: NetworkConfig, new: NetworkConfig) -> dict:
    """A state dict of ``old`` (fewer blocks) renamed for ``new``: the (de)convolutions, GDNs
    and existing blocks keep their weights at their new positions in g_a/g_s (a stage's
    existing blocks stay its first ones); the added blocks are missing
    (they keep their identity initialisation when loaded with strict=False)."""
    if any(getattr(new, count) < getattr(old, count) for count in BLOCK_COUNTS):
        raise ValueError(
            f"cannot shrink transforms from {describe_blocks(old)} to {describe_blocks(new)}"
        )
    positions = {}
    for name, old_layers, new_layers in zip(
        ("g_a", "g_s"), transform_layers(old), transform_layers(new), strict=True
    ):
        new_index = {label: i for i, label in enumerate(_layer_labels(new_layers))}
        positions[name] = {i: new_index[label] for i, label in enumerate(_layer_labels(old_layers))}
    grown = {}
    for key, value in state.items():
        prefix, _, rest = key.partition(".")
        if prefix in positions:
            index, _, leaf = rest.partition(".")
            key = f"{prefix}.{positions[prefix][int(index)]}.{leaf}"
        grown[key] = value
    return grown


def describe_blocks(config: NetworkConfig) -> str:
    """'8 + 4 blocks' (per stage at 1/4 and 1/8 + at 1/2 resolution), then ' (g_a 12 + 8)'
    when the analysis transform has extra blocks."""
    text = f"{config.blocks} + {config.half_blocks} blocks"
    if config.g_a_extra_blocks or config.g_a_extra_half_blocks:
        text += (
            f" (g_a {config.blocks + config.g_a_extra_blocks} + "
            f"{config.half_blocks + config.g_a_extra_half_blocks})"
        )
    return text


def gain_spread(levels: int) -> torch.Tensor:
    """(levels,) initial gains sqrt(lambda / middle lambda): the quantization step of an
    MSE-optimised latent shrinks like 1/sqrt(lambda), so levels start at distinct rates."""
    lambdas = torch.tensor(LAMBDAS[:levels], dtype=torch.float32)
    return torch.sqrt(lambdas / lambdas[levels // 2])


def scale_from_index(index: torch.Tensor) -> torch.Tensor:
    """Standard deviation for (float) scale-table index units, clamped to the table."""
    return SCALE_MIN * torch.exp(index.clamp(0, SCALE_LEVELS - 1) * SCALE_STEP)


def gaussian_likelihood(values: torch.Tensor, means: torch.Tensor, scales: torch.Tensor):
    """P(round(v - mean) | N(0, scale)) for the integer bin around v - mean, bounded below."""
    centred = (values - means).abs()
    upper = torch.special.ndtr((0.5 - centred) / scales)
    lower = torch.special.ndtr((-0.5 - centred) / scales)
    return (upper - lower).clamp_min(LIKELIHOOD_BOUND)


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round with a straight-through gradient."""
    return x + (torch.round(x) - x).detach()


class ImageNetwork(nn.Module):
    """Transforms, hyperprior and gain units; see the module docstring for the dataflow."""

    def __init__(self, config: NetworkConfig = NetworkConfig()) -> None:
        super().__init__()
        entropy_models = compressai_module("entropy_models")
        n, m, z = config.n, config.m, config.z
        self.config = config
        self.g_a, self.g_s = transform_layers(config)
        self.h_a = nn.Sequential(
            _conv(m, n, 3, 1), nn.ReLU(),
            _conv(n, n), nn.ReLU(),
            _conv(n, z),
        )  # fmt: skip
        self.h_s = nn.Sequential(
            _deconv(z, n), nn.ReLU(),
            _deconv(n, n * 3 // 2), nn.ReLU(),
            _conv(n * 3 // 2, 2 * m, 3, 1),
        )  # fmt: skip
        self.entropy_bottleneck = entropy_models.EntropyBottleneck(z)
        spread = gain_spread(config.levels)[:, None]
        self.gain = nn.Parameter(spread * torch.ones(config.levels, m))
        self.inverse_gain = nn.Parameter(torch.ones(config.levels, m) / spread)
        #: Run g_a and g_s in bfloat16 autocast in ``forward`` (training speed: CPU matrix
        #: units run bf16 convolutions ~2x faster); entropy parameters stay float32.
        self.bf16_transforms = False
        self.context = None
        if config.groups is not None:
            from models.image.context import GroupedContext

            if sum(config.groups) != m:
                raise ValueError(f"group sizes {config.groups} do not add up to {m}")
            self.context = GroupedContext(config.groups)

    def gains(self, rate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) float rate positions in [0, levels-1] -> gain and inverse gain, (B,M,1,1).

        Integer positions select a level; fractions interpolate geometrically.
        """
        low = rate.floor().long().clamp(0, self.config.levels - 2)
        t = (rate - low).clamp(0, 1)[:, None]

        def interpolate(table: torch.Tensor) -> torch.Tensor:
            a, b = table.abs()[low] + 1e-6, table.abs()[low + 1] + 1e-6
            return (a ** (1 - t) * b**t)[:, :, None, None]

        return interpolate(self.gain), interpolate(self.inverse_gain)

    def quantize_latent(
        self, y: torch.Tensor, hyper: torch.Tensor, rounding=round_ste
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(y_hat, means, scale indexes) of gained latent y (B,M,h,w) given h_s output
        ``hyper``: y_hat = rounding(y - mean) + mean, the means refined by the grouped
        context when the network has one (hyperprior only: h_s means in latent units)."""
        if self.context is None:
            means, scale_index = hyper.chunk(2, dim=1)
            return rounding(y - means) + means, means, scale_index
        return self.context(y, hyper, lambda v, mu: rounding(v - mu) + mu)

    def run_transform(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """module(x) as float32, computed in bfloat16 autocast when ``bf16_transforms``."""
        with torch.autocast(x.device.type, torch.bfloat16, enabled=self.bf16_transforms):
            return module(x).float()

    def rounded_latents(
        self, y: torch.Tensor, rounding=torch.round
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Gained latent y (B,M,h,w) as coded: (y_hat (B,M,h,w), bits of y, bits of z). y_hat
        is y rounded around its means; the bits are the -log2 likelihood of the rounded
        latents under this float network (the integer path's files stay within a few % of it,
        see tools/export_image_weights.py). ``rounding``: torch.round, or round_ste where
        gradients must pass (same values)."""
        z = self.h_a(y)
        _, z_likelihoods = self.entropy_bottleneck(z, training=False)
        y_hat, means, index = self.quantize_latent(y, self.h_s(rounding(z)), rounding)
        y_likelihoods = gaussian_likelihood(y_hat, means, scale_from_index(index))
        return y_hat, -torch.log2(y_likelihoods).sum(), -torch.log2(z_likelihoods).sum()

    def code_rounded(
        self, x: torch.Tensor, rate: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``rounded_latents`` of x (B,3,H,W) in [0,1] (H, W multiples of 64) at rate
        positions ``rate`` (B,)."""
        gain, _ = self.gains(rate)
        return self.rounded_latents(self.g_a(x) * gain)

    def forward(self, x: torch.Tensor, rate: torch.Tensor) -> dict[str, torch.Tensor]:
        """Training pass: reconstruction and likelihoods of y (noisy) and z (noisy).

        Without groups, h_s gives means in latent units; with groups it gives means in
        1/MEAN_STEPS steps and the grouped context refines them (see models.image.context).
        """
        gain, inverse_gain = self.gains(rate)
        y = self.run_transform(self.g_a, x) * gain
        z = self.h_a(y)
        _, z_likelihoods = self.entropy_bottleneck(z)
        hyper = self.h_s(round_ste(z))
        y_hat, means, scale_index = self.quantize_latent(y, hyper)
        scales = scale_from_index(scale_index)
        y_noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
        y_likelihoods = gaussian_likelihood(y_noisy, means, scales)
        x_hat = self.run_transform(self.g_s, y_hat * inverse_gain)
        return {"x_hat": x_hat, "y": y_likelihoods, "z": z_likelihoods}

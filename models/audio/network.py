"""SEANet-style causal encoder/decoder with two bottlenecks (RVQ and FSQ) on one latent.

Shapes: waveforms are (B, 1, T) float32 at 24 kHz with T a multiple of ``hop`` (320 samples,
75 frames/s); latents are (B, D, T / hop). Every convolution is causal (left padding only;
transposed convolutions trim on the right), so an output sample depends on past inputs only
and a finite window of them (:attr:`AudioNetwork.receptive_frames`): chunked processing with
that much left context gives the same frames as processing the whole file.

Bottlenecks (``vector-quantize-pytorch``):

* ``rvq``: :class:`ResidualVQ`, ``codebooks`` levels of ``codebook_size`` entries (10 bits
  each at 1024), EMA codebooks with k-means init and dead-code replacement, quantizer dropout
  in steps of 2 levels so one model serves 2/4/6/8 levels (1.5/3/4.5/6 kbps).
* ``fsq``: :class:`FSQ` with ``fsq_groups`` groups of ``fsq_levels`` ([8,5,5,5]: 1000 codes,
  9.97 bits per group; 8 groups = 5.98 kbps).

The two share encoder and decoder: training sends half of each batch through each bottleneck,
so the comparison between them isolates the quantizer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

SAMPLE_RATE = 24000


@dataclass(frozen=True)
class AudioConfig:
    """Architecture hyper-parameters (stored in the weights file's metadata)."""

    channels: int = 16
    strides: tuple[int, ...] = (2, 4, 5, 8)
    dilations: tuple[int, ...] = (1, 3)
    latent: int = 128
    codebooks: int = 8
    codebook_size: int = 1024
    fsq_levels: tuple[int, ...] = (8, 5, 5, 5)
    fsq_groups: int = 8

    @property
    def hop(self) -> int:
        hop = 1
        for s in self.strides:
            hop *= s
        return hop

    def as_dict(self) -> dict:
        return asdict(self)


class CausalConv1d(nn.Conv1d):
    """Conv1d padded on the left by (kernel - 1) * dilation - (stride - 1): T -> T / stride."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = (self.kernel_size[0] - 1) * self.dilation[0] - (self.stride[0] - 1)
        return super().forward(nn.functional.pad(x, (pad, 0)))


class CausalConvTranspose1d(nn.ConvTranspose1d):
    """ConvTranspose1d trimmed on the right: T -> T * stride, output t uses inputs <= t."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        trim = self.kernel_size[0] - self.stride[0]
        return y[..., : y.shape[-1] - trim] if trim else y


class ResidualUnit(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ELU(),
            CausalConv1d(channels, channels // 2, 3, dilation=dilation),
            nn.ELU(),
            nn.Conv1d(channels // 2, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def _encoder(cfg: AudioConfig) -> nn.Sequential:
    layers: list[nn.Module] = [CausalConv1d(1, cfg.channels, 7)]
    ch = cfg.channels
    for stride in cfg.strides:
        layers += [ResidualUnit(ch, d) for d in cfg.dilations]
        layers += [nn.ELU(), CausalConv1d(ch, 2 * ch, 2 * stride, stride=stride)]
        ch *= 2
    layers += [nn.ELU(), CausalConv1d(ch, cfg.latent, 3)]
    return nn.Sequential(*layers)


def _decoder(cfg: AudioConfig) -> nn.Sequential:
    ch = cfg.channels * 2 ** len(cfg.strides)
    layers: list[nn.Module] = [CausalConv1d(cfg.latent, ch, 7)]
    for stride in reversed(cfg.strides):
        layers += [nn.ELU(), CausalConvTranspose1d(ch, ch // 2, 2 * stride, stride=stride)]
        ch //= 2
        layers += [ResidualUnit(ch, d) for d in cfg.dilations]
    layers += [nn.ELU(), CausalConv1d(ch, 1, 7)]
    return nn.Sequential(*layers)


def receptive_field(layers: nn.Sequential) -> int:
    """How many consecutive input positions one output position of ``layers`` depends on.

    Computed backwards over the convolutions (residual skips add no reach): a causal conv
    needs ``stride * (n - 1) + (kernel - 1) * dilation + 1`` inputs for ``n`` outputs, a
    trimmed transposed conv at most ``(n + kernel - 2) // stride + 2``.
    """
    convs = [m for m in layers.modules() if isinstance(m, nn.Conv1d | nn.ConvTranspose1d)]
    n = 1
    for conv in reversed(convs):
        (k,), (s,), (d,) = conv.kernel_size, conv.stride, conv.dilation
        if isinstance(conv, nn.ConvTranspose1d):
            n = (n + k - 2) // s + 2
        else:
            n = s * (n - 1) + (k - 1) * d + 1
    return n


class AudioNetwork(nn.Module):
    """Encoder, decoder and both bottlenecks. See the module docstring for shapes.

    ``trainable_quantizers=True`` (training) holds the library's ResidualVQ and FSQ modules.
    With False (the shipped decoder and encoder) it holds just what inference reads from
    them, the stacked RVQ codebooks and the FSQ projections (see :func:`inference_state`),
    and never imports vector-quantize-pytorch (about 2 s of start-up). Codes and latents are
    computed by the same methods in both cases; a test checks them against the library.
    """

    def __init__(self, cfg: AudioConfig | None = None, *, trainable_quantizers: bool = True):
        super().__init__()
        self.cfg = cfg = cfg or AudioConfig()
        self.encoder = _encoder(cfg)
        self.decoder = _decoder(cfg)
        self.rvq = self.fsq = None
        if trainable_quantizers:
            from vector_quantize_pytorch import FSQ, ResidualVQ

            self.rvq = ResidualVQ(
                dim=cfg.latent,
                num_quantizers=cfg.codebooks,
                codebook_size=cfg.codebook_size,
                decay=0.99,
                kmeans_init=True,
                kmeans_iters=10,
                threshold_ema_dead_code=2,
                quantize_dropout=True,
                quantize_dropout_multiple_of=2,
            )
            self.fsq = FSQ(
                levels=list(cfg.fsq_levels), dim=cfg.latent, num_codebooks=cfg.fsq_groups
            )
        else:
            fsq_dim = len(cfg.fsq_levels) * cfg.fsq_groups
            books = torch.zeros(cfg.codebooks, cfg.codebook_size, cfg.latent)
            self.register_buffer("codebooks", books)
            self.fsq_project_in = nn.Linear(cfg.latent, fsq_dim)
            self.fsq_project_out = nn.Linear(fsq_dim, cfg.latent)

    @property
    def hop(self) -> int:
        return self.cfg.hop

    def receptive_frames(self) -> tuple[int, int]:
        """(encoder, decoder) left context, in frames, that makes chunked output exact."""
        return -(-receptive_field(self.encoder) // self.hop), receptive_field(self.decoder) - 1

    def encode_latent(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, 1, T) -> (B, D, T / hop)."""
        return self.encoder(wave)

    def decode_latent(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, D, N) -> (B, 1, N * hop)."""
        return self.decoder(latent)

    def _books(self) -> torch.Tensor:
        """(levels, size, D) RVQ codebooks."""
        return self.codebooks if self.rvq is None else self.rvq.codebooks

    def _fsq_projections(self) -> tuple[nn.Linear, nn.Linear]:
        if self.fsq is None:
            return self.fsq_project_in, self.fsq_project_out
        return self.fsq.project_in, self.fsq.project_out

    def _fsq_scalar_levels(self) -> torch.Tensor:
        """(groups * len(levels),) int32 levels of every FSQ scalar, group after group."""
        return torch.tensor(self.cfg.fsq_levels * self.cfg.fsq_groups, dtype=torch.int32)

    def rvq_codes(self, latent: torch.Tensor, levels: int) -> torch.Tensor:
        """(B, D, N) latent -> (B, N, levels) int64 codebook indices.

        The same nearest-codeword (Euclidean) search as ``ResidualVQ`` in eval mode, written
        out so that inference skips its training-time bookkeeping (about 2x faster)."""
        batch, _, frames = latent.shape
        residual = latent.transpose(1, 2).reshape(batch * frames, -1)
        codes = []
        for book in self._books()[:levels]:
            dist = torch.addmm((book * book).sum(-1), residual, book.T, alpha=-2)
            index = dist.argmin(-1)
            residual = residual - book[index]
            codes.append(index)
        return torch.stack(codes, -1).reshape(batch, frames, levels)

    def rvq_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, N, levels) indices -> (B, D, N) quantized latent (sum of the codewords)."""
        books = self._books()
        latent = sum(books[q][codes[..., q]] for q in range(codes.shape[-1]))
        return latent.transpose(1, 2)

    def fsq_codes(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, D, N) latent -> (B, N, groups * len(levels)) int64 FSQ digits (one per scalar,
        digit j of a group in 0..levels[j]-1).

        FSQ's quantizer as in ``FSQ.bound`` (eps 1e-3): project, bound every scalar with a
        shifted tanh to (levels - 1) / 2 * (1 + eps), round; digit = rounded + levels // 2."""
        project_in, _ = self._fsq_projections()
        levels = self._fsq_scalar_levels()
        z = project_in(latent.transpose(1, 2))
        half_l = (levels - 1) * (1 + 1e-3) / 2
        offset = torch.where(levels % 2 == 0, 0.5, 0.0)
        bounded = torch.tanh(z + torch.atanh(offset / half_l)) * half_l - offset
        return (torch.round(bounded) + levels // 2).long()

    def fsq_latent(self, digits: torch.Tensor) -> torch.Tensor:
        """(B, N, groups * len(levels)) digits -> (B, D, N) quantized latent (FSQ's codes
        (digit - levels // 2) / (levels // 2) through its output projection)."""
        _, project_out = self._fsq_projections()
        half = self._fsq_scalar_levels() // 2
        return project_out((digits - half) / half).transpose(1, 2)

    def _fsq_radix(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(levels, place values) of the digits of an FSQ group index (first digit lowest)."""
        levels = torch.tensor(self.cfg.fsq_levels)
        return levels, torch.cumprod(torch.cat([torch.ones(1, dtype=torch.long), levels[:-1]]), 0)

    def fsq_pack(self, digits: torch.Tensor) -> torch.Tensor:
        """(..., groups * len(levels)) digits -> (..., groups) group indexes."""
        _, place = self._fsq_radix()
        grouped = digits.unflatten(-1, (self.cfg.fsq_groups, len(self.cfg.fsq_levels)))
        return (grouped * place).sum(-1)

    def fsq_unpack(self, indexes: torch.Tensor) -> torch.Tensor:
        """(..., groups) group indexes -> (..., groups * len(levels)) digits."""
        levels, place = self._fsq_radix()
        return ((indexes[..., None] // place) % levels).flatten(-2)

    def alphabet(self, mode: str) -> list[int]:
        """Symbols per code stream of ``mode`` ("rvq": codebook levels, "fsq": digits)."""
        if mode == "rvq":
            return [self.cfg.codebook_size] * self.cfg.codebooks
        return list(self.cfg.fsq_levels) * self.cfg.fsq_groups


def inference_state(state: dict[str, torch.Tensor], cfg: AudioConfig) -> dict[str, torch.Tensor]:
    """A training network's state (library quantizer names) -> the inference network's:
    ``rvq.layers.<i>._codebook.embed`` (1, size, D) stacked into ``codebooks``,
    ``fsq.project_<in|out>.*`` renamed ``fsq_project_<in|out>.*``; EMA statistics dropped."""
    out = {k: v for k, v in state.items() if not k.startswith(("rvq.", "fsq."))}
    out["codebooks"] = torch.stack(
        [
            state[f"rvq.layers.{i}._codebook.embed"].reshape(cfg.codebook_size, cfg.latent)
            for i in range(cfg.codebooks)
        ]
    )
    for k, v in state.items():
        if k.startswith("fsq.project_"):
            out["fsq_" + k.removeprefix("fsq.")] = v
    return out

"""The shipped (inference) network computes RVQ/FSQ codes and latents without
vector-quantize-pytorch; they must equal the library's on the same trained weights."""

from __future__ import annotations

import subprocess
import sys

import torch
from safetensors.numpy import load_file

from models.audio.network import AudioConfig, AudioNetwork
from models.audio.weights import WEIGHTS, load_weights, network_state, restore_codebook_state
from tests.conftest import ROOT


def library_network() -> AudioNetwork:
    """The shipped weights in the training network (library ResidualVQ and FSQ)."""
    net = AudioNetwork(load_weights().network.cfg)
    net.load_state_dict(network_state(load_file(str(WEIGHTS))), strict=False)
    restore_codebook_state(net)
    return net.eval()


def test_codes_and_latents_equal_the_library():
    torch.manual_seed(0)
    shipped, library = load_weights().network, library_network()
    assert shipped.rvq is None and shipped.fsq is None
    latent = 3 * torch.randn(2, shipped.cfg.latent, 50)
    with torch.inference_mode():
        digits = shipped.fsq_codes(latent)
        _, indexes = library.fsq(latent.transpose(1, 2))
        assert torch.equal(shipped.fsq_pack(digits), indexes.long())
        expected = library.fsq.indices_to_codes(indexes).transpose(1, 2)
        torch.testing.assert_close(shipped.fsq_latent(digits), expected, rtol=0, atol=0)
        codes = shipped.rvq_codes(latent, 8)
        _, library_codes, _ = library.rvq(latent.transpose(1, 2))
        assert torch.equal(codes, library_codes)
        quantized = library.rvq.get_output_from_indices(library_codes).transpose(1, 2)
        torch.testing.assert_close(shipped.rvq_latent(codes), quantized, rtol=1e-6, atol=1e-5)


def test_fsq_digits_stay_in_their_levels():
    net = load_weights().network
    with torch.inference_mode():
        digits = net.fsq_codes(1e3 * torch.randn(1, net.cfg.latent, 20))
    levels = torch.tensor(AudioConfig().fsq_levels * AudioConfig().fsq_groups)
    assert digits.min() >= 0 and bool((digits < levels).all())


def test_decoding_audio_does_not_import_the_quantizer_library(tmp_path):
    script = (
        "import sys, numpy as np, codec\n"
        "from codec.media.audio import Audio, AudioInfo\n"
        "x = (0.1 * np.sin(np.arange(4800) / 7)).astype(np.float32)[None]\n"
        "blob = codec.encode(Audio(AudioInfo(24000, 1, 4800), iter([x])), kind='audio')\n"
        "codec.decode(blob)\n"
        "assert 'vector_quantize_pytorch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=120)

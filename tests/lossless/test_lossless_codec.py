"""The lossless kind end to end with the shipped circuits: MNIST digits (one stream, compact
single files), any other 8-bit image through the patch circuit, files in and out, clear errors."""

from __future__ import annotations

import gzip
import struct
import zlib

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import codec
from codec.cli import main
from codec.container import PRELUDE, ContainerReader, container_bytes
from codec.errors import BitstreamError, InputError
from codec.media.lossless import open_input


@pytest.fixture(scope="module")
def digits(shared_data_module):
    with open_input(shared_data_module / "mnist" / "t10k-images-idx3-ubyte.gz") as images:
        return images[:24]


@pytest.fixture(scope="module")
def shared_data_module():
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available at {SHARED_DATA}")
    return SHARED_DATA


def natural_image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A smooth random image (gradients + noise), uint8."""
    rng = np.random.default_rng(seed)
    h, w = shape[:2]
    base = np.add.outer(np.linspace(0, 120, h), np.linspace(0, 90, w))
    channels = shape[2] if len(shape) == 3 else 1
    planes = [base + 30 * c + rng.normal(0, 6, (h, w)) for c in range(channels)]
    image = np.clip(np.stack(planes, axis=-1), 0, 255).astype(np.uint8)
    return image if len(shape) == 3 else image[..., 0]


def test_mnist_stack_is_one_stream_and_bit_exact(digits):
    blob = codec.encode(digits, kind="lossless")
    decoded = codec.decode(blob)
    assert decoded.header.metadata["model"] == "mnist"
    assert decoded.media.dtype == np.uint8 and np.array_equal(decoded.media, digits)
    assert len(blob) * 8 / digits.size < 1.8  # bits per dimension, container included


def test_single_digit_uses_the_compact_container(digits):
    blob = codec.encode(digits[0], kind="lossless")
    assert blob[:3] == b"NCc" and len(blob) < 200
    assert np.array_equal(codec.decode(blob).media, digits[0])


@pytest.mark.parametrize(
    "shape", [(13, 21), (8, 8), (1, 1), (3, 40), (17, 9, 3), (2, 13, 21), (2, 5, 6, 3), (28, 28, 3)]
)
def test_other_images_use_the_patch_circuit_and_are_bit_exact(shape):
    if len(shape) == 4 or (len(shape) == 3 and shape[2] != 3):
        image = np.stack([natural_image(shape[1:], seed) for seed in range(shape[0])])
    else:
        image = natural_image(shape)
    blob = codec.encode(image, kind="lossless")
    assert ContainerReader(blob).header.metadata["model"] == "patch"
    decoded = codec.decode(blob).media
    assert decoded.shape == image.shape and np.array_equal(decoded, image)


def test_files_round_trip_through_the_cli(tmp_path, digits):
    idx = tmp_path / "digits-idx3-ubyte.gz"
    with gzip.open(idx, "wb") as f:
        f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, *digits.shape) + digits.tobytes())
    png = tmp_path / "photo.png"
    Image.fromarray(natural_image((19, 23, 3))).save(png)
    npy = tmp_path / "stack.npy"
    np.save(npy, np.stack([natural_image((9, 7), s) for s in range(3)]))
    runner = CliRunner()
    for source, target, kind in (
        (idx, tmp_path / "back-idx3-ubyte.gz", []),
        (png, tmp_path / "back.png", ["--kind", "lossless"]),
        (npy, tmp_path / "back.npy", []),
    ):
        encoded = tmp_path / f"{source.name}.bin"
        result = runner.invoke(main, ["encode", str(source), str(encoded), *kind])
        assert result.exit_code == 0, result.output
        result = runner.invoke(main, ["decode", str(encoded), str(target)])
        assert result.exit_code == 0, result.output
        with open_input(source) as original, open_input(target) as back:
            assert np.array_equal(original, back)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((4, 4), np.float32), "uint8"),
        (np.zeros((4, 0), np.uint8), "shape"),
        (np.zeros((2, 2, 2, 2, 2), np.uint8), "shape"),
    ],
)
def test_bad_arrays_are_refused_clearly(array, message):
    with pytest.raises(InputError, match=message):
        codec.encode(array, kind="lossless")


def test_bad_files_give_one_line_errors(tmp_path):
    rgba = tmp_path / "alpha.png"
    pixels = np.zeros((4, 4, 4), np.uint8)
    Image.fromarray(pixels, "RGBA").save(rgba)
    deep = tmp_path / "deep.png"
    Image.fromarray(np.zeros((4, 4), np.uint16)).save(deep)
    pickled = tmp_path / "objects.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    runner = CliRunner()
    for path in (rgba, deep, pickled):
        result = runner.invoke(main, ["encode", str(path), str(tmp_path / "x.bin"), "--kind",
                                      "lossless"])  # fmt: skip
        assert result.exit_code == 2, result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_corrupt_files_raise_bitstream_errors(digits):
    blob = codec.encode(digits[:3], kind="lossless")
    header = ContainerReader(blob).header
    chunk = ContainerReader(blob).read_chunk(0)
    for position in range(0, len(blob), 7):
        broken = bytearray(blob)
        broken[position] ^= 0x5A
        with pytest.raises(BitstreamError):
            codec.decode(bytes(broken))
    # structure-aware: valid CRCs, wrong content
    for metadata in (
        {**header.metadata, "shape": (3, 28, 29)},
        {**header.metadata, "shape": (4, 28, 28)},
        {**header.metadata, "model": "other"},
        {**header.metadata, "shape": (2**40, 28, 28)},
    ):
        forged = container_bytes("lossless", header.codec_id, [chunk], metadata, header.weights_id)
        with pytest.raises(BitstreamError):
            codec.decode(forged)
    garbage = container_bytes(
        "lossless", header.codec_id, [bytes(range(256)) * 3], dict(header.metadata),
        header.weights_id,
    )  # fmt: skip
    with pytest.raises(BitstreamError):
        codec.decode(garbage)


def test_compact_profile_matches_the_shipped_weights(digits):
    from codec.container import COMPACT_PROFILES
    from models.lossless.codec import MNIST_WEIGHTS
    from models.lossless.weights import load_circuit

    assert COMPACT_PROFILES[1].weights_id == load_circuit(MNIST_WEIGHTS).weights_id
    assert PRELUDE.size == 12 and zlib.crc32(b"") == 0


@settings(max_examples=15, deadline=None)
@given(
    st.tuples(st.integers(1, 3), st.integers(1, 19), st.integers(1, 19), st.sampled_from([1, 3])),
    st.integers(0, 2**32 - 1),
)
def test_random_images_round_trip_bit_exactly(shape, seed):
    n, h, w, c = shape
    pixels = np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)
    array = pixels[..., 0] if c == 1 else pixels
    array = array[0] if n == 1 else array
    decoded = codec.decode(codec.encode(array, kind="lossless")).media
    assert decoded.shape == array.shape and np.array_equal(decoded, array)

"""Checkpoint codec: bit-exact lossless round trips, reference and near-lossless modes, files,
series, the training-loop writer, untrusted input and corrupt streams."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

import codec
from codec.cli import main
from codec.errors import BitstreamError, InputError, InvalidParameterError
from entropy import SymbolDecoder, SymbolEncoder
from models.checkpoint import lossless
from models.checkpoint.floats import FLOAT_FORMATS
from models.checkpoint.writer import CheckpointWriter, load_checkpoint
from tests.conformance.golden import checkpoint_tensor_hashes


def assert_same(a, b) -> None:
    """Same structure, types, names, dtypes, shapes and bytes (NaN payloads included)."""
    assert type(a) is type(b)
    if torch.is_tensor(a):
        assert (a.dtype, a.shape) == (b.dtype, b.shape)
        assert (
            a.contiguous()
            .reshape(-1)
            .view(torch.uint8)
            .equal(b.contiguous().reshape(-1).view(torch.uint8))
        )
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        assert a == b or (a != a and b != b)


def training_states(steps: tuple[int, ...] = (5, 10, 15)) -> list[dict]:
    """Real Adam training states of a small MLP after each number of steps."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(256, 32), torch.randn(256, 8)
    states, done = [], 0
    for target in steps:
        for _ in range(target - done):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
        done = target
        states.append(
            copy.deepcopy({"model": model.state_dict(), "optimizer": optimizer.state_dict()})
            | {"step": done}
        )
    return states


def odd_state() -> dict:
    return {
        "f32": torch.randn(7, 5),
        "noncontiguous": torch.randn(6, 4).t(),
        "bf16": torch.randn(33).to(torch.bfloat16),
        "f16": torch.randn(3, 3, 3).half(),
        "f64": torch.randn(4, dtype=torch.float64),
        "specials": torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0, 1e-45]),
        "ints": torch.arange(-5, 5, dtype=torch.int64),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.arange(256, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "complex": torch.randn(3, dtype=torch.complex64),
        "empty": torch.empty(0, 5),
        "empty_bf16": torch.empty(2, 0, dtype=torch.bfloat16),
        "scalar": torch.tensor(2.5),
        "nested": OrderedDict([("a", [torch.ones(2), (1, 2.5, "s", None, True)]), ("b", {})]),
        "int_keys": {0: {"step": torch.tensor(3.0)}, 7: torch.zeros(1)},
        "number": 1e-3,
        "nan_number": float("nan"),
    }


def test_lossless_roundtrip_of_every_supported_kind_of_content():
    state = odd_state()
    decoded = codec.decode(codec.encode(state, kind="checkpoint")).media
    assert_same(state, decoded)
    assert isinstance(decoded["nested"], OrderedDict) and isinstance(
        decoded["nested"]["a"][1], tuple
    )


@settings(max_examples=60, deadline=None)
@given(
    fmt=st.sampled_from(sorted(FLOAT_FORMATS)),
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(0, 700),
    low_precision=st.booleans(),
)
def test_float_field_coders_are_exact_on_any_bit_pattern(fmt, seed, count, low_precision):
    """Plain and reference coding of arbitrary bit patterns (NaNs, infinities, denormals)."""
    f = FLOAT_FORMATS[fmt]
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 1 << f.width, count, dtype=np.uint64).astype(f.uint)
    if low_precision:  # whole blocks with zero low mantissa bits
        bits &= np.array(~((1 << (f.mantissa_bits // 2)) - 1) & ((1 << f.width) - 1), dtype=f.uint)
    reference = (bits.astype(np.int64) + rng.integers(-3, 4, count)) % (1 << f.width)
    reference = reference.astype(f.uint)
    for ref in (None, reference):
        encoder, bank = SymbolEncoder(), lossless.ModelBank()
        if ref is None:
            raw = lossless.encode_float_plain(bits, f, encoder, bank)
        else:
            raw = lossless.encode_float_reference(bits, ref, f, encoder, bank)
        decoder, bank = SymbolDecoder(encoder.to_bytes()), lossless.ModelBank()
        if ref is None:
            out = lossless.decode_float_plain(count, f, decoder, memoryview(raw), bank)
        else:
            out = lossless.decode_float_reference(ref, f, decoder, memoryview(raw), bank)
        decoder.finish()
        np.testing.assert_array_equal(out.astype(f.uint), bits)


def test_trailing_zero_blocks_find_lower_precision_values():
    values = torch.randn(4096)
    as_fp16 = values.half().float()  # float16 values stored in float32
    full = len(codec.encode({"x": values}, kind="checkpoint"))
    reduced = len(codec.encode({"x": as_fp16}, kind="checkpoint"))
    assert reduced < 0.62 * full  # 13 of 23 mantissa bits are known zeros


def test_reference_mode_is_exact_and_smaller():
    previous, current = training_states((50, 51))
    alone = codec.encode(current, kind="checkpoint")
    against = codec.encode(current, kind="checkpoint", reference=previous)
    assert_same(current, codec.decode(against, reference=previous).media)
    assert len(against) < 0.8 * len(alone)


def test_reference_must_be_the_one_used_to_encode():
    first, second, third = training_states()
    blob = codec.encode(third, kind="checkpoint", reference=second)
    with pytest.raises(InputError, match="pass it with --reference"):
        codec.decode(blob)
    with pytest.raises(InputError, match="differs from the one used"):
        codec.decode(blob, reference=first)
    with pytest.raises(InputError, match="has no"):
        codec.decode(blob, reference={"model": {}})


def test_near_lossless_respects_its_bounds_and_never_makes_moments_negative():
    previous, current = training_states((20, 40))
    bound, state_bound = 1e-2, 0.1
    blob = codec.encode(
        current, kind="checkpoint", reference=previous, max_error=bound, state_error=state_bound
    )
    decoded = codec.decode(blob, reference=previous).media
    for name, weight in current["model"].items():
        error = (decoded["model"][name] - weight).abs().max()
        rms = weight.pow(2).mean().sqrt()
        assert error <= bound * rms * (1 + 1e-6) + weight.abs().max() * 2**-24
    for key, state in current["optimizer"]["state"].items():
        got = decoded["optimizer"]["state"][key]
        v = state["exp_avg_sq"]
        assert (got["exp_avg_sq"] >= 0).all()
        assert ((got["exp_avg_sq"] - v).abs() <= state_bound * v).all()
        m = state["exp_avg"]
        assert (got["exp_avg"] - m).abs().max() <= state_bound * m.pow(2).mean().sqrt() * 1.001
        assert_same(got["step"], state["step"])  # 0-d step counters stay lossless
    odd = {"counter": torch.tensor(1234567.0), "w": torch.randn(100)}
    back = codec.decode(codec.encode(odd, kind="checkpoint", max_error=0.3)).media
    assert_same(back["counter"], odd["counter"])
    assert len(blob) < 0.25 * len(codec.encode(current, kind="checkpoint", reference=previous))


def test_bad_options_are_refused():
    state = {"x": torch.ones(3)}
    with pytest.raises(InvalidParameterError, match="max-error"):
        codec.encode(state, kind="checkpoint", quality=3)
    with pytest.raises(InvalidParameterError, match="must lie in"):
        codec.encode(state, kind="checkpoint", max_error=2.0)
    with pytest.raises(InvalidParameterError, match="checkpoints only"):
        codec.encode(b"abc", kind="raw", max_error=0.1)
    with pytest.raises(InputError, match="unsupported object"):
        codec.encode({"x": object()}, kind="checkpoint")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_safetensors_file_roundtrip_keeps_names_dtypes_and_metadata(tmp_path):
    tensors = {
        "a.weight": torch.randn(64, 48),
        "a.bias": torch.randn(48).to(torch.bfloat16),
        "b": torch.randn(5, 5).half(),
        "ids": torch.arange(12).reshape(3, 4),
        "empty": torch.empty(0),
    }
    src, packed, back = tmp_path / "m.safetensors", tmp_path / "m.ncdc", tmp_path / "b.safetensors"
    save_file(tensors, str(src), metadata={"format": "pt", "note": "x"})
    assert run("encode", src, packed).exit_code == 0
    result = run("decode", packed, back)
    assert result.exit_code == 0, result.output
    restored = load_file(str(back))
    assert sorted(restored) == sorted(tensors)
    for name, tensor in tensors.items():
        assert_same(tensor, restored[name])
    from safetensors import safe_open

    with safe_open(str(back), framework="pt") as f:
        assert f.metadata() == {"format": "pt", "note": "x"}


def test_torch_series_folder_roundtrip_lossless_and_near_lossless(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    states = training_states((3, 6, 9, 12))
    for state in states:
        torch.save(state, run_dir / f"ckpt_{state['step']}.pt")
    for extra in ([], ["--max-error", "0.01"]):
        packed, restored = tmp_path / f"packed{len(extra)}", tmp_path / f"restored{len(extra)}"
        assert run("encode", run_dir, packed, "--series", *extra).exit_code == 0
        names = sorted(p.name for p in packed.iterdir())
        assert names == sorted(f"ckpt_{s['step']}.pt.ncdc" for s in states)
        result = run("decode", packed, restored, "--series")
        assert result.exit_code == 0, result.output
        for state in states:
            back = torch.load(restored / f"ckpt_{state['step']}.pt", weights_only=True)
            if not extra:
                assert_same(state, back)
            else:
                weight, got = state["model"]["0.weight"], back["model"]["0.weight"]
                assert (got - weight).abs().max() <= 0.0101 * weight.pow(2).mean().sqrt()


def test_single_file_reference_via_cli(tmp_path):
    first, second = training_states((4, 8))[:2]
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    torch.save(first, a)
    torch.save(second, b)
    assert run("encode", b, tmp_path / "b.ncdc", "--reference", a).exit_code == 0
    result = run("decode", tmp_path / "b.ncdc", tmp_path / "b2.pt")
    assert result.exit_code == 2 and "--reference" in result.output
    assert run("decode", tmp_path / "b.ncdc", tmp_path / "b2.pt", "--reference", a).exit_code == 0
    assert_same(second, torch.load(tmp_path / "b2.pt", weights_only=True))


class _Exploit:
    def __reduce__(self):
        return (eval, ("open('PWNED', 'w').write('x')",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"weights": _Exploit()}, protocol=2))
    result = run("encode", evil, tmp_path / "evil.ncdc")
    assert result.exit_code == 2 and "refusing to load" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "evil.ncdc").exists()


def test_corrupted_streams_raise_bitstream_errors_only():
    previous, current = training_states((2, 4))[:2]
    blob = codec.encode(current, kind="checkpoint", reference=previous, max_error=0.05)
    rng = np.random.default_rng(0)
    failures = 0
    for trial in range(300):
        data = bytearray(blob)
        if trial % 3 == 0:
            data = data[: rng.integers(0, len(data))]
        else:
            for _ in range(1 + trial % 4):
                position = rng.integers(0, len(data))
                data[position] ^= 1 << rng.integers(0, 8)
        try:
            codec.decode(bytes(data), reference=previous)
        except BitstreamError:
            failures += 1
    assert failures >= 290  # chunk CRCs catch nearly everything; the rest decode to a valid state


def test_writer_and_loader_follow_the_reference_chain(tmp_path):
    states = training_states((1, 2, 3, 4, 5))
    writer = CheckpointWriter(tmp_path / "lossless", keyframe_every=3)
    near = CheckpointWriter(tmp_path / "near", mode="near-lossless", max_error=1e-2)
    for state in states:
        writer.save(state)
        near.save(state)
    assert [p.name for p in writer.saved][-1] == "step_000004.ncdc"
    assert_same(states[4], load_checkpoint(tmp_path / "lossless", "step_000004"))
    assert_same(states[1], load_checkpoint(tmp_path / "lossless", "step_000001"))
    approx = load_checkpoint(tmp_path / "near", "step_000004")
    w, got = states[4]["model"]["2.weight"], approx["model"]["2.weight"]
    assert (got - w).abs().max() <= 0.0101 * w.pow(2).mean().sqrt()
    assert codec.info(writer.saved[3]).metadata.get("reference") is None  # keyframe
    with pytest.raises(InvalidParameterError):
        CheckpointWriter(tmp_path / "x", mode="lossy")


def test_tensor_hashes_helper_sees_dtype_and_shape():
    a = checkpoint_tensor_hashes({"x": torch.zeros(4)})
    b = checkpoint_tensor_hashes({"x": torch.zeros(2, 2)})
    assert a != b and hashlib.sha256(bytes(16)).hexdigest() in a.values()


def test_structure_aware_corruption_gives_codec_errors_only():
    """Mutations behind valid CRCs reach the tensor parsers: only package errors come out."""
    from tests.test_fuzz import refresh_crcs

    previous, current = training_states((2, 4))[:2]
    blobs = [
        codec.encode(current, kind="checkpoint"),
        codec.encode(current, kind="checkpoint", reference=previous),
        codec.encode(current, kind="checkpoint", reference=previous, max_error=0.05),
    ]
    rng = np.random.default_rng(1)
    for trial in range(240):
        data = bytearray(blobs[trial % 3])
        for _ in range(1 + trial % 3):
            data[rng.integers(60, len(data))] = rng.integers(0, 256)
        with contextlib.suppress(BitstreamError, InputError):
            codec.decode(refresh_crcs(data), reference=previous)


@pytest.mark.parametrize(
    ("shapes", "limit_mib"),
    [([(512, 1024)] * 24, 32), ([(2048, 2048)], 48)],
    ids=["24 tensors of 2 MiB", "one 16 MiB tensor"],
)
def test_files_stream_tensor_by_tensor_with_bounded_memory(tmp_path, shapes, limit_mib):
    """Peak Python/numpy allocations (tracemalloc): many tensors cost no more than one, and
    one big tensor costs about itself plus its compressed chunk (segments bound the rest)."""
    import tracemalloc

    src, packed, back = (tmp_path / n for n in ("m.safetensors", "m.ncdc", "b.safetensors"))
    torch.manual_seed(0)
    save_file({f"t{i}": torch.randn(shape) for i, shape in enumerate(shapes)}, str(src))
    tracemalloc.start()
    try:
        codec.encode_file(src, packed)
        codec.decode_file(packed, back)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit_mib << 20, f"peak {peak >> 20} MiB"
    last = f"t{len(shapes) - 1}"
    assert load_file(str(back))[last].equal(load_file(str(src))[last])


def test_output_format_follows_the_output_name(tmp_path):
    flat = {"w": torch.randn(3, 4), "b": torch.randn(4).half()}
    nested = {"model": flat, "step": 3}
    for state, name in ((flat, "flat"), (nested, "nested")):
        torch.save(state, tmp_path / f"{name}.pt")
        assert run("encode", tmp_path / f"{name}.pt", tmp_path / f"{name}.ncdc").exit_code == 0
    assert run("decode", tmp_path / "flat.ncdc", tmp_path / "flat.safetensors").exit_code == 0
    restored = load_file(str(tmp_path / "flat.safetensors"))
    assert_same(flat["w"], restored["w"])
    assert_same(flat["b"], restored["b"])
    result = run("decode", tmp_path / "nested.ncdc", tmp_path / "nested.safetensors")
    assert result.exit_code == 2 and "write it as .pt" in result.output
    save_file(flat, str(tmp_path / "s.safetensors"))
    assert run("encode", tmp_path / "s.safetensors", tmp_path / "s.ncdc").exit_code == 0
    assert run("decode", tmp_path / "s.ncdc", tmp_path / "s.pt").exit_code == 0
    assert_same(torch.load(tmp_path / "s.pt", weights_only=True)["w"], flat["w"])

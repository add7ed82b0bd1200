"""Checkpoint files <-> :class:`CheckpointSource` (structure + tensors read one at a time).

Inputs: safetensors files (read tensor by tensor) and torch checkpoints (``.pt``/``.pth``/
``.ckpt``, zip format), which are loaded with ``torch.load(weights_only=True, mmap=True)``:
a pickle that needs anything beyond tensors and plain containers is refused, never run.
Outputs: the format of the original (recorded in the bitstream) unless the output name
says otherwise; safetensors outputs are written tensor by tensor as they are decoded.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codec.errors import BitstreamError, InputError
from models.checkpoint.tree import flatten, unflatten

#: dtypes a checkpoint may hold (torch names); the bitstream names one of these per tensor.
DTYPES = (
    "float32", "float16", "bfloat16", "float64", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool", "complex64", "complex128",
    "float8_e4m3fn", "float8_e5m2",
)  # fmt: skip
_SAFETENSORS_DTYPES = {
    "float32": "F32", "float16": "F16", "bfloat16": "BF16", "float64": "F64",
    "int8": "I8", "int16": "I16", "int32": "I32", "int64": "I64", "uint8": "U8",
    "uint16": "U16", "uint32": "U32", "uint64": "U64", "bool": "BOOL",
    "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
}  # fmt: skip
_TORCH_DTYPES = {v: k for k, v in _SAFETENSORS_DTYPES.items()}


@dataclass(frozen=True)
class TensorInfo:
    """Where a tensor sits in the structure (``path``), its torch dtype name and shape."""

    path: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def itemsize(self) -> int:
        return dtype_itemsize(self.dtype)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.itemsize


def dtype_itemsize(name: str) -> int:
    """Bytes per element of a torch dtype name from :data:`DTYPES`."""
    import torch

    return getattr(torch, name).itemsize


@dataclass
class CheckpointSource:
    """A checkpoint whose tensors are produced on demand (``tensor(i)``: raw little-endian
    bytes as a (nbytes,) uint8 array). ``manifest`` is the structure (models.checkpoint.tree);
    ``file_format`` is "safetensors" or "torch"; ``metadata`` the safetensors string map."""

    file_format: str
    manifest: dict
    tensors: list[TensorInfo]
    load: Callable[[int], np.ndarray]
    metadata: dict[str, str] = field(default_factory=dict)
    name: str = ""  # file name, recorded in files coded against this checkpoint

    def tensor(self, index: int) -> np.ndarray:
        return self.load(index)

    def index_of(self) -> dict[str, int]:
        return {info.path: i for i, info in enumerate(self.tensors)}


def tensor_to_bytes(tensor: Any) -> tuple[str, tuple[int, ...], np.ndarray]:
    """A torch tensor -> (dtype name, shape, raw bytes as (nbytes,) uint8)."""
    import torch

    if tensor.layout != torch.strided or tensor.is_quantized or tensor.is_nested:
        raise InputError(f"unsupported tensor layout {tensor.layout} (dense tensors only)")
    name = str(tensor.dtype).removeprefix("torch.")
    if name not in DTYPES:
        raise InputError(f"unsupported tensor dtype {name}")
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return name, tuple(tensor.shape), flat.view(torch.uint8).numpy()


def bytes_to_tensor(info: TensorInfo, data: np.ndarray) -> Any:
    """Inverse of :func:`tensor_to_bytes` (a new, writable tensor)."""
    import torch

    dtype = getattr(torch, info.dtype)
    if data.size == 0:
        return torch.empty(info.shape, dtype=dtype)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).view(dtype).reshape(info.shape)


def from_object(obj: Any, file_format: str = "torch", name: str = "") -> CheckpointSource:
    """A source over an in-memory structure of torch tensors (state dicts, optimizer states);
    ``name`` is recorded in files coded against it."""
    import torch

    manifest, found = flatten(obj, torch.is_tensor)
    infos, arrays = [], []
    for path, tensor in found:
        dtype, shape, data = tensor_to_bytes(tensor)
        infos.append(TensorInfo(path, dtype, shape))
        arrays.append(data)
    return CheckpointSource(file_format, manifest, infos, arrays.__getitem__, name=name)


MAX_SAFETENSORS_HEADER = 1 << 27


def _open_safetensors(path: Path) -> CheckpointSource:
    """Parse the header (u64 length + JSON); tensors are read one at a time with plain file
    reads (no memory map, so memory holds one tensor, not the file's pages)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        if length > min(MAX_SAFETENSORS_HEADER, size - 8):
            raise InputError(f"{path}: safetensors header length {length} is impossible")
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"{path}: unreadable safetensors header ({exc})") from None
    if not isinstance(header, dict):
        raise InputError(f"{path}: safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    entries = []
    for name, entry in header.items():
        try:
            dtype = _torch_dtype_name(entry["dtype"])
            shape = tuple(int(n) for n in entry["shape"])
            start, end = (int(n) for n in entry["data_offsets"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise InputError(f"{path}: malformed safetensors entry {name!r}") from None
        info = TensorInfo(name, dtype, shape)
        if min(shape, default=0) < 0 or end - start != info.nbytes or not 0 <= start <= end:
            raise InputError(f"{path}: tensor {name!r} has inconsistent shape and offsets")
        if 8 + length + end > size:
            raise InputError(f"{path}: tensor {name!r} lies beyond the end of the file")
        entries.append((start, info))
    entries.sort(key=lambda e: e[0])  # file order
    infos = [info for _, info in entries]
    offsets = [8 + length + start for start, _ in entries]
    manifest = {
        "t": "dict",
        "k": [["s", info.path] for info in infos],
        "v": [{"t": "tensor", "i": i} for i in range(len(infos))],
    }

    def load(index: int) -> np.ndarray:
        with open(path, "rb") as f:
            f.seek(offsets[index])
            data = np.frombuffer(f.read(infos[index].nbytes), dtype=np.uint8)
        if data.size != infos[index].nbytes:
            raise InputError(f"{path}: file ended inside tensor {infos[index].path!r}")
        return data

    return CheckpointSource("safetensors", manifest, infos, load, dict(metadata), path.name)


def _torch_dtype_name(safetensors_dtype: str) -> str:
    name = _TORCH_DTYPES.get(safetensors_dtype.upper())
    if name is None:
        raise InputError(f"unsupported safetensors dtype {safetensors_dtype}")
    return name


def _open_torch(path: Path) -> CheckpointSource:
    import torch

    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:  # legacy (non-zip) files cannot be memory-mapped
            if "mmap" not in str(exc):
                raise
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{path}: refusing to load: the pickle needs more than tensors and plain"
            f" containers, and running it could execute code ({first})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError) as exc:
        raise InputError(f"{path}: not a readable torch checkpoint ({exc})") from None
    return from_object(obj, "torch", path.name)


def open_input(path: Path) -> contextlib.AbstractContextManager[CheckpointSource]:
    """Context manager yielding the checkpoint at ``path`` (format from its first bytes)."""
    with open(path, "rb") as f:
        head = f.read(9)
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":  # torch zip / legacy pickle
        return contextlib.nullcontext(_open_torch(path))
    if len(head) == 9 and head[8:9] == b"{":  # u64 header length, then JSON
        return contextlib.nullcontext(_open_safetensors(path))
    raise InputError(f"{path}: not a safetensors file or a torch (zip or pickle) checkpoint")


# --- writing --------------------------------------------------------------------------------


@dataclass
class DecodedCheckpoint:
    """What the checkpoint codec decodes: the source description and a stream of tensor
    bytes in manifest order (consumed once)."""

    file_format: str
    manifest: dict
    tensors: list[TensorInfo]
    data: Iterable[np.ndarray]
    metadata: dict[str, str] = field(default_factory=dict)


def collect(decoded: DecodedCheckpoint) -> Any:
    """The decoded structure with torch tensors (dict of tensors for safetensors)."""
    pairs = zip(decoded.tensors, decoded.data, strict=True)
    return unflatten(decoded.manifest, [bytes_to_tensor(info, data) for info, data in pairs])


TORCH_SUFFIXES = (".pt", ".pth", ".ckpt")


def write(decoded: DecodedCheckpoint, path: Path) -> None:
    """Write as safetensors (streamed, tensor by tensor) or as a torch file: the output name's
    extension decides (.safetensors or .pt/.pth/.ckpt), otherwise the original format."""
    name = path.name.lower()
    if name.endswith(".safetensors") or (
        decoded.file_format == "safetensors" and not name.endswith(TORCH_SUFFIXES)
    ):
        if not _is_flat(decoded.manifest):
            raise InputError(
                "this checkpoint has a nested structure, which safetensors cannot hold:"
                " write it as .pt"
            )
        _write_safetensors(decoded, path)
    else:
        import torch

        torch.save(collect(decoded), path)


def _is_flat(manifest: dict) -> bool:
    """A dict of string keys to tensors (what a safetensors file holds)."""
    return manifest.get("t") in ("dict", "odict") and all(
        key[0] == "s" and value.get("t") == "tensor"
        for key, value in zip(manifest["k"], manifest["v"], strict=True)
    )


def _write_safetensors(decoded: DecodedCheckpoint, path: Path) -> None:
    header: dict[str, Any] = {}
    if decoded.metadata:
        header["__metadata__"] = decoded.metadata
    offset = 0
    for info in decoded.tensors:
        if info.dtype not in _SAFETENSORS_DTYPES:
            raise InputError(f"dtype {info.dtype} cannot be stored in safetensors")
        header[info.path] = {
            "dtype": _SAFETENSORS_DTYPES[info.dtype],
            "shape": list(info.shape),
            "data_offsets": [offset, offset + info.nbytes],
        }
        offset += info.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for info, data in zip(decoded.tensors, decoded.data, strict=True):
            if data.size != info.nbytes:
                raise BitstreamError(
                    f"tensor {info.path}: {data.size} bytes, expected {info.nbytes}"
                )
            f.write(memoryview(data))

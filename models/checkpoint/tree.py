"""Checkpoint structure <-> JSON manifest plus a flat list of tensors.

A checkpoint is a nested structure of dicts (also ``OrderedDict``), lists and tuples whose
leaves are tensors or plain scalars (int, float, bool, str, None). ``flatten`` replaces every
tensor by its index in a flat list and describes everything else in a JSON-able manifest;
``unflatten`` rebuilds the identical structure. Dict keys may be str or int (optimizer
``state`` dicts use int keys); floats keep their exact value (JSON writes ``repr``).

Manifest node forms (``t`` = type tag)::

    {"t": "tensor", "i": 3}            {"t": "int", "v": 7}     {"t": "float", "v": 0.9}
    {"t": "bool", "v": true}           {"t": "str", "v": "x"}   {"t": "none"}
    {"t": "dict"|"odict", "k": [keys...], "v": [nodes...]}   keys: ["s", "name"] | ["i", 0]
    {"t": "list"|"tuple", "v": [nodes...]}
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from codec.errors import BitstreamError, InputError

#: Nesting depth limit (also bounds recursion when reading a manifest from a file).
MAX_DEPTH = 64


def flatten(obj: Any, is_tensor: Callable[[Any], bool]) -> tuple[dict, list[tuple[str, Any]]]:
    """(manifest, [(path, tensor), ...]); paths join keys with "/" (e.g. "state/0/exp_avg")."""
    tensors: list[tuple[str, Any]] = []

    def walk(node: Any, path: str, depth: int) -> dict:
        if depth > MAX_DEPTH:
            raise InputError(f"checkpoint nesting deeper than {MAX_DEPTH} at {path!r}")
        if is_tensor(node):
            tensors.append((path, node))
            return {"t": "tensor", "i": len(tensors) - 1}
        if isinstance(node, bool):
            return {"t": "bool", "v": node}
        if isinstance(node, int):
            return {"t": "int", "v": node}
        if isinstance(node, float):
            return {"t": "float", "v": node}
        if isinstance(node, str):
            return {"t": "str", "v": node}
        if node is None:
            return {"t": "none"}
        if isinstance(node, dict):
            keys, values = [], []
            for key, value in node.items():
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise InputError(f"unsupported dict key {key!r} at {path!r} (str/int only)")
                keys.append(["s", key] if isinstance(key, str) else ["i", key])
                values.append(walk(value, f"{path}/{key}" if path else str(key), depth + 1))
            tag = "odict" if isinstance(node, OrderedDict) else "dict"
            return {"t": tag, "k": keys, "v": values}
        if isinstance(node, (list, tuple)):
            tag = "tuple" if isinstance(node, tuple) else "list"
            items = [
                walk(v, f"{path}/{i}" if path else str(i), depth + 1) for i, v in enumerate(node)
            ]
            return {"t": tag, "v": items}
        raise InputError(
            f"unsupported object of type {type(node).__name__} at {path or 'the top level'!r}"
            " (checkpoints may hold tensors, dicts, lists, tuples and plain scalars)"
        )

    return walk(obj, "", 0), tensors


def unflatten(manifest: Any, tensors: list[Any]) -> Any:
    """Inverse of :func:`flatten`; a malformed manifest raises BitstreamError."""

    def build(node: Any, depth: int) -> Any:
        if depth > MAX_DEPTH or not isinstance(node, dict) or "t" not in node:
            raise BitstreamError("checkpoint manifest is malformed")
        tag = node["t"]
        try:
            if tag == "tensor":
                return tensors[_index(node["i"], len(tensors))]
            if tag in ("int", "bool", "str"):
                value = node["v"]
                if type(value) is not {"int": int, "bool": bool, "str": str}[tag]:
                    raise TypeError(tag)
                return value
            if tag == "float":
                if type(node["v"]) not in (int, float):
                    raise TypeError(tag)
                return float(node["v"])
            if tag == "none":
                return None
            if tag in ("dict", "odict"):
                keys = [_key(k) for k in node["k"]]
                values = [build(v, depth + 1) for v in node["v"]]
                if len(keys) != len(values):
                    raise TypeError("keys/values")
                return (OrderedDict if tag == "odict" else dict)(zip(keys, values, strict=True))
            if tag in ("list", "tuple"):
                items = [build(v, depth + 1) for v in node["v"]]
                return tuple(items) if tag == "tuple" else items
        except (KeyError, TypeError, ValueError):
            raise BitstreamError(f"checkpoint manifest has a malformed {tag!r} node") from None
        raise BitstreamError(f"checkpoint manifest has an unknown node type {tag!r}")

    return build(manifest, 0)


def _index(value: Any, count: int) -> int:
    if type(value) is not int or not 0 <= value < count:
        raise TypeError("tensor index")
    return value


def _key(pair: Any) -> str | int:
    kind, key = pair
    if kind == "s" and type(key) is str or kind == "i" and type(key) is int:
        return key
    raise TypeError("key")

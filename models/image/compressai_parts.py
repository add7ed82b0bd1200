"""Import CompressAI layers without running ``compressai/__init__.py``.

The package's ``__init__`` imports every sub-package (datasets, zoo, point clouds through
torch_geometric) and costs ~7 s here; the layers we use need none of that. Registering a bare
package module first lets ``compressai.layers`` / ``compressai.entropy_models`` import alone
(~0.7 s after torch).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any


def compressai_module(name: str) -> Any:
    """``compressai.<name>`` (e.g. "layers", "entropy_models"), imported without the package
    initialiser unless the full package is already loaded."""
    if "compressai" not in sys.modules:
        spec = importlib.util.find_spec("compressai")
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError("compressai is not installed (pip install compressai==1.2.8)")
        package = types.ModuleType("compressai")
        package.__path__ = list(spec.submodule_search_locations)
        # Entropy models ask the package for its coder when constructed; we never use it
        # (coding goes through our entropy layer) but the constructor must succeed.
        package.get_entropy_coder = lambda: "ans"
        package.available_entropy_coders = lambda: ["ans"]
        sys.modules["compressai"] = package
    return importlib.import_module(f"compressai.{name}")

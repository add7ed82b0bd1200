"""Whether ``--bf16`` pays off on this machine's CPU.

bf16 autocast is fast only where the CPU has bf16 matrix units (AMX-BF16 or AVX512-BF16);
elsewhere torch emulates bf16 and an image training step ran more than 10x slower than in
float32 (AMD EPYC with AVX2 only, 2026-11-27: 0.04 vs 0.5 it/s). The training tools print
this warning instead of silently crawling.
"""

from __future__ import annotations

from pathlib import Path

BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """The CPU feature flags Linux lists, or None where that file is missing or unreadable."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return None


def emulated_bf16_warning(device: str, flags: set[str] | None = None) -> str | None:
    """A one-line warning when ``--bf16`` would run on a CPU without bf16 units, else None
    (also None on GPUs and where the flags are unknown)."""
    flags = cpu_flags() if flags is None else flags
    if device != "cpu" or flags is None or any(flag in flags for flag in BF16_FLAGS):
        return None
    return (
        "warning: --bf16 on a CPU without bf16 units (no amx_bf16/avx512_bf16 flag): torch "
        "emulates bf16 here, more than 10x slower than float32; drop --bf16"
    )

"""Which dtype the DiT runs in: one pure policy (DIFFRHYTHM.md, "Precision and speed facts").

CUDA: float16 by default; bfloat16 when asked and the GPU supports it; float32 when asked.
CPU: NEVER float16 (53-131x slower than float32/bfloat16 on CPUs without native fp16; upstream's
     CPU "hours"). auto -> bfloat16 when the CPU has AMX (amx_bf16), else float32.
     Why not every CPU with avx512_bf16: on this project's avx512_bf16 machines WITHOUT AMX, bf16
     matmuls measured 0.4-0.6x the float32 speed (tests/bench/bench_sampler_precision.py), while the
     AMX figures in DIFFRHYTHM.md are 5x faster than float32. bfloat16 stays available when asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # bf16 instructions exist
FAST_BF16_FLAGS = frozenset({"amx_bf16"})  # bf16 is faster than float32 (AMX tiles)


@dataclass(frozen=True)
class Precision:
    dtype: str  # float32 | bfloat16 | float16
    reason: str
    warning: str | None = None


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU feature flags; empty when unknown (non-Linux, unreadable)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def choose_dtype(device_type: str, asked: str, flags: frozenset[str], cuda_bf16: bool = False) -> Precision:
    """`device_type` is "cpu" or "cuda"; `asked` one of auto/float32/bfloat16/float16."""
    if device_type == "cuda":
        if asked in ("auto", "float16"):
            return Precision("float16", "CUDA default" if asked == "auto" else "asked")
        if asked == "bfloat16":
            if cuda_bf16:
                return Precision("bfloat16", "asked; the GPU supports bfloat16")
            return Precision(
                "float16", "GPU lacks bfloat16",
                "bfloat16 was asked but this GPU does not support it: using float16",
            )
        return Precision("float32", "asked")
    native = bool(flags & NATIVE_BF16_FLAGS)
    fast = bool(flags & FAST_BF16_FLAGS)
    if asked == "float32":
        return Precision("float32", "asked")
    if asked == "bfloat16":
        if native:
            return Precision("bfloat16", "asked; the CPU has native bfloat16")
        return Precision(
            "bfloat16", "asked",
            "bfloat16 on a CPU without native bf16 (no avx512_bf16/amx) may be slower than float32",
        )
    best = "bfloat16" if fast else "float32"
    why = ("the CPU has AMX bfloat16" if fast else
           "bfloat16 without AMX is slower than float32" if native else "the CPU lacks native bfloat16")
    if asked == "float16":
        return Precision(
            best, f"float16 refused on the CPU; {why}",
            "float16 on a CPU is upstream's slow path (53-131x slower than float32/bfloat16 on CPUs without "
            f"avx512_fp16: hours per song; and float16 can overflow): using {best}",
        )
    return Precision(best, f"CPU default: {why}")

"""Sizes as people read them: the one byte formatter (binary units, as `free -h` and the checks use)."""

from __future__ import annotations

_UNITS = ("KiB", "MiB", "GiB", "TiB")


def gib(size: float | None) -> str:
    """79_920_000_000 -> '74.4 GiB'; 512 -> '512 B'; None -> 'unknown size'."""
    if size is None:
        return "unknown size"
    if abs(size) < 1024:
        return f"{int(size)} B"
    value, unit = float(size), "B"
    for unit in _UNITS:
        value /= 1024
        if abs(value) < 1024:
            break
    return f"{value:.1f} {unit}"

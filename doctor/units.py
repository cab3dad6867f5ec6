"""Sizes and durations as people read them: the one byte formatter (binary units, as `free -h` and the checks
use) and the one duration formatter of the terminal views (run progress, install progress)."""

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


def duration(seconds: float | None) -> str:
    """12.34 -> '12.3s'; 754 -> '12m34s'; 7300 -> '2h01m'; None -> '?'."""
    if seconds is None:
        return "?"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    return f"{minutes}m{sec:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"

"""Sizes as people read them."""

from __future__ import annotations


def gib(size: int | None) -> str:
    if size is None:
        return "unknown size"
    if size < 1 << 20:
        return f"{size} B"
    if size < 1 << 30:
        return f"{size / (1 << 20):.1f} MiB"
    return f"{size / (1 << 30):.1f} GiB"

"""Memory facts: RAM and swap (from /proc/meminfo), and WSL2's limits in the Windows `.wslconfig`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from doctor import wslconfig
from doctor.probes._fs import at, read_text, seen
from runner import textfile


@dataclass(frozen=True)
class WslConfig:
    path: str
    memory: int | None  # bytes, from [wsl2] memory=
    swap: int | None  # bytes, from [wsl2] swap=
    error: str | None  # why the file could not be read, or None


@dataclass(frozen=True)
class MemoryFacts:
    ram_total: int | None
    ram_available: int | None
    swap_total: int | None
    swap_free: int | None
    wslconfigs: tuple[WslConfig, ...]  # one per Windows user folder that has a .wslconfig


def _meminfo(text: str | None) -> dict[str, int]:
    return {key: int(kib) * 1024 for key, kib in re.findall(r"^(\w+):\s+(\d+) kB", text or "", re.M)}


def _wslconfig(root: Path, path: Path) -> WslConfig:
    try:
        found = wslconfig.read(path)
    except textfile.Unreadable as exc:
        return WslConfig(path=seen(root, path), memory=None, swap=None, error=str(exc).replace(str(path), seen(root, path)))
    return WslConfig(path=seen(root, path), memory=found.size("memory"), swap=found.size("swap"), error=None)


def probe(root: Path) -> MemoryFacts:
    info = _meminfo(read_text(at(root, "/proc/meminfo")))
    try:
        configs = sorted(at(root, "/mnt/c/Users").glob("*/.wslconfig"))
    except OSError:
        configs = []
    return MemoryFacts(
        ram_total=info.get("MemTotal"),
        ram_available=info.get("MemAvailable"),
        swap_total=info.get("SwapTotal"),
        swap_free=info.get("SwapFree"),
        wslconfigs=tuple(_wslconfig(root, path) for path in configs),
    )

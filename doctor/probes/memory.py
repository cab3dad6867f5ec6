"""Memory facts: RAM and swap (from /proc/meminfo), and WSL2's limits in the Windows `.wslconfig`."""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

from doctor.probes._fs import at, read_text, seen

_UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20, "G": 1 << 30, "GB": 1 << 30, "T": 1 << 40, "TB": 1 << 40}


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


def parse_size(text: str) -> int | None:
    """WSL's size syntax: '8GB', '512MB', '16G' -> bytes; None when unreadable."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*", text.strip().strip('"'), re.I)
    if not found:
        return None
    return int(float(found.group(1)) * _UNITS[found.group(2).upper()])


def _meminfo(text: str | None) -> dict[str, int]:
    return {key: int(kib) * 1024 for key, kib in re.findall(r"^(\w+):\s+(\d+) kB", text or "", re.M)}


def _wslconfig(root: Path, path: Path) -> WslConfig:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8-sig", errors="replace"))
    except (OSError, configparser.Error) as exc:
        return WslConfig(path=seen(root, path), memory=None, swap=None, error=str(exc).splitlines()[0])
    section = parser["wsl2"] if parser.has_section("wsl2") else {}
    return WslConfig(
        path=seen(root, path),
        memory=parse_size(section["memory"]) if "memory" in section else None,
        swap=parse_size(section["swap"]) if "swap" in section else None,
        error=None,
    )


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

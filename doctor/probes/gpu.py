"""GPU facts: the NVIDIA driver, the CUDA version it supports, each GPU, WSL2's libcuda."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doctor import wheels
from doctor.probes._fs import at, read_text
from doctor.probes.nvml import NvmlSource

WSL_LIB_DIR = "/usr/lib/wsl/lib"


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_total: int | None
    memory_free: int | None
    compute_capability: tuple[int, int] | None


@dataclass(frozen=True)
class GpuFacts:
    nvml: str  # "ok", "no_library", "no_driver", "error"
    nvml_error: str | None
    driver_version: str | None
    cuda_driver: tuple[int, int] | None  # the highest CUDA this driver supports
    cuda_driver_source: str | None  # "nvml", or "kernel module" when read from /proc via the table
    kernel_module_version: str | None  # /proc/driver/nvidia/version (native Linux only)
    devices: tuple[Gpu, ...]
    wsl_libcuda: tuple[str, ...]  # libcuda.so* files under /usr/lib/wsl/lib

    @property
    def driver_works(self) -> bool:
        """NVML answered and sees at least one GPU."""
        return self.nvml == "ok" and bool(self.devices)


def cuda_from_nvml(value: Any) -> tuple[int, int] | None:
    """NVML's 12040 -> (12, 4)."""
    if not isinstance(value, int) or value <= 0:
        return None
    return value // 1000, (value % 1000) // 10


def _kernel_module(root: Path) -> str | None:
    text = read_text(at(root, "/proc/driver/nvidia/version"))
    found = re.search(r"Kernel Module(?: for [\w-]+)?\s+(\d+\.\d+(?:\.\d+)?)", text or "")
    return found.group(1) if found else None


def _wsl_libcuda(root: Path) -> tuple[str, ...]:
    folder = at(root, WSL_LIB_DIR)
    try:
        return tuple(sorted(p.name for p in folder.glob("libcuda.so*")))
    except OSError:
        return ()


def probe(root: Path, source: NvmlSource) -> GpuFacts:
    snapshot = source()
    status = snapshot.get("status", "error")
    devices = tuple(
        Gpu(
            name=str(d.get("name", "?")),
            memory_total=d.get("memory_total"),
            memory_free=d.get("memory_free"),
            compute_capability=tuple(d["compute_capability"]) if d.get("compute_capability") else None,
        )
        for d in snapshot.get("devices", ())
    )
    module = _kernel_module(root)
    cuda = cuda_from_nvml(snapshot.get("cuda_driver_version")) if status == "ok" else None
    cuda_source = "nvml" if cuda else None
    if cuda is None and module:
        cuda = wheels.cuda_for_driver(module)
        cuda_source = "kernel module" if cuda else None
    return GpuFacts(
        nvml=status,
        nvml_error=snapshot.get("error"),
        driver_version=snapshot.get("driver_version") or module,
        cuda_driver=cuda,
        cuda_driver_source=cuda_source,
        kernel_module_version=module,
        devices=devices,
        wsl_libcuda=_wsl_libcuda(root),
    )

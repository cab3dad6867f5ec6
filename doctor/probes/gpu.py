"""GPU facts: the NVIDIA driver, the CUDA version it supports, each GPU, WSL2's libcuda, and a Linux driver's
libraries in the distro's own library folders (on WSL2 they shadow the Windows driver's)."""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doctor import wheels
from doctor.probes._fs import at, read_text
from doctor.probes.nvml import NvmlSource

WSL_LIB_DIR = "/usr/lib/wsl/lib"
# Where a Linux NVIDIA driver (distro packages or NVIDIA's .run installer) puts its user-space libraries.
LINUX_LIB_DIRS = ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
                  "/lib64", "/usr/lib", "/usr/local/lib")
DRIVER_LIBS = ("libcuda.so*", "libnvidia-ml.so*")


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
    linux_driver_libs: tuple[str, ...] = ()  # libcuda/libnvidia-ml in LINUX_LIB_DIRS (links into WSL_LIB_DIR excepted)

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


def _into_wsl_lib(root: Path, machine_path: str) -> bool:
    """A link (or chain of links) ending in the Windows driver's copy, as users make by hand: not a conflict."""
    for _ in range(8):
        try:
            target = os.readlink(at(root, machine_path))
        except OSError:  # not a link (or unreadable): it ends here
            return False
        machine_path = posixpath.normpath(posixpath.join(posixpath.dirname(machine_path), target))
        if machine_path.startswith(WSL_LIB_DIR + "/"):
            return True
    return False


def _linux_driver_libs(root: Path) -> tuple[str, ...]:
    found: dict[str, str] = {}  # real file -> the path first seen (merged /usr: /lib is /usr/lib)
    for folder in LINUX_LIB_DIRS:
        base = at(root, folder)
        for pattern in DRIVER_LIBS:
            try:
                matches = sorted(base.glob(pattern))
            except OSError:
                continue
            for path in matches:
                machine_path = f"{folder}/{path.name}"
                if _into_wsl_lib(root, machine_path) or "stubs" in path.parts:
                    continue
                found.setdefault(os.path.realpath(path), machine_path)
    return tuple(sorted(found.values()))


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
        linux_driver_libs=_linux_driver_libs(root),
    )

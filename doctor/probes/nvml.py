"""NVML snapshots: what the NVIDIA management library says, as plain data.

A snapshot is a dict (the same shape whether it comes live from `pynvml` or from a recorded JSON
file), so the GPU probe turns either into facts the same way:
  {"status": "ok" | "no_library" | "no_driver" | "error", "error": str,
   "driver_version": "550.54.14", "cuda_driver_version": 12040,
   "devices": [{"name": str, "memory_total": int, "memory_free": int, "compute_capability": [8, 6]}]}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

NvmlSource = Callable[[], dict[str, Any]]
LIBRARY = "libnvidia-ml.so.1"


def _query(func: Callable[..., Any], *args: Any, default: Any = None) -> Any:
    """One NVML call; an NVML error (or a symbol this driver lacks) gives `default`."""
    import pynvml

    try:
        return func(*args)
    except (pynvml.NVMLError, AttributeError):
        return default


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def live() -> dict[str, Any]:
    """Ask the real NVML (nvidia-ml-py's `pynvml`); never raises."""
    import ctypes

    try:  # the same load pynvml does, without the cost of importing pynvml on machines with no driver
        ctypes.CDLL(LIBRARY)
    except OSError:
        return {"status": "no_library", "error": f"{LIBRARY} not found"}
    try:
        import pynvml
    except ImportError:
        return {"status": "no_library", "error": "the nvidia-ml-py package is not installed"}
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError_LibraryNotFound:
        return {"status": "no_library", "error": f"{LIBRARY} not found"}
    except pynvml.NVMLError_DriverNotLoaded:
        return {"status": "no_driver", "error": "the NVIDIA kernel driver is not loaded"}
    except pynvml.NVMLError as exc:
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    try:
        devices = []
        for index in range(_query(pynvml.nvmlDeviceGetCount, default=0)):
            handle = _query(pynvml.nvmlDeviceGetHandleByIndex, index)
            if handle is None:
                continue
            memory = _query(pynvml.nvmlDeviceGetMemoryInfo, handle)
            capability = _query(pynvml.nvmlDeviceGetCudaComputeCapability, handle)
            devices.append({
                "name": _text(_query(pynvml.nvmlDeviceGetName, handle, default="?")),
                "memory_total": getattr(memory, "total", None),
                "memory_free": getattr(memory, "free", None),
                "compute_capability": list(capability) if capability else None,
            })
        return {
            "status": "ok",
            "driver_version": _text(_query(pynvml.nvmlSystemGetDriverVersion)),
            "cuda_driver_version": _query(pynvml.nvmlSystemGetCudaDriverVersion),
            "devices": devices,
        }
    finally:
        _query(pynvml.nvmlShutdown)


def recorded(path: Path) -> NvmlSource:
    """A source that replays a snapshot saved as JSON (what fixture roots and bug reports carry)."""

    def read() -> dict[str, Any]:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return {"status": "error", "error": f"cannot read NVML snapshot {path}: {exc}"}

    return read

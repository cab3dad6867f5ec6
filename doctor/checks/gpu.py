"""gpu.*: the NVIDIA driver and, on WSL2, the Windows driver's libcuda (and no Linux driver shadowing it).

On WSL2 the GPU belongs to the Windows driver: there is no Linux kernel module to load, no reboot or Secure Boot
key to deal with, and a Linux driver installed inside the distro only gets in the way. So WSL2's findings give
only WSL2's remedies."""

from __future__ import annotations

from doctor.checks.registry import check
from doctor.facts import Facts
from doctor.findings import Finding, Status
from doctor.units import gib

WSL_RESTART = "run `wsl --update` and `wsl --shutdown` in PowerShell, and reopen the distro"


def cuda_text(cuda: tuple[int, int] | None) -> str:
    return f"CUDA {cuda[0]}.{cuda[1]}" if cuda else "CUDA unknown"


def shadow_remedy(files: tuple[str, ...]) -> str:
    """What to do about a Linux NVIDIA driver's libraries inside WSL2 (named by the caller)."""
    return (
        "WSL2 reaches the GPU only through the Windows driver's libraries in /usr/lib/wsl/lib; these copies from a "
        "Linux NVIDIA driver installed inside the distro are found first and cannot talk to /dev/dxg. Remove that "
        f"driver: `dpkg -S {' '.join(files)}` names its packages (e.g. nvidia-driver-NNN, libnvidia-compute-NNN); "
        "`sudo apt-get remove --purge` them (a .run install: `sudo nvidia-uninstall`), then `sudo ldconfig`, and "
        f"{WSL_RESTART}. Keep the NVIDIA driver on Windows only."
    )


def _wsl_nvml_failed(g) -> Finding:
    """NVML did not answer on WSL2: the Windows driver's side, or a Linux driver in the way."""
    if g.linux_driver_libs:
        return Finding(
            "gpu.driver", Status.FAIL,
            f"NVML failed: a Linux NVIDIA driver inside WSL2 shadows the Windows driver ({', '.join(g.linux_driver_libs)})",
            f"NVML said: {g.nvml_error}. " + shadow_remedy(g.linux_driver_libs),
        )
    return Finding(
        "gpu.driver", Status.WARN, "NVML failed in WSL2: the Windows NVIDIA driver does not answer",
        f"NVML said: {g.nvml_error}. Install or update the NVIDIA driver on Windows (it brings WSL2 support), then "
        f"{WSL_RESTART}. Until then generation runs on the CPU.",
    )


@check("gpu.driver", "gpu", "platform")
def driver(facts: Facts) -> Finding:
    g, wsl2 = facts.gpu, facts.platform.kind == "wsl2"
    if g.nvml == "ok" and g.devices:
        gpus = "; ".join(
            f"{d.name} {gib(d.memory_total)}"
            + (f", compute capability {d.compute_capability[0]}.{d.compute_capability[1]}" if d.compute_capability else "")
            for d in g.devices
        )
        return Finding("gpu.driver", Status.OK, f"NVIDIA driver {g.driver_version} ({cuda_text(g.cuda_driver)}): {gpus}")
    if wsl2 and g.nvml in ("no_driver", "error"):
        return _wsl_nvml_failed(g)
    if wsl2 and g.nvml == "ok":
        return Finding(
            "gpu.driver", Status.WARN, f"the Windows NVIDIA driver {g.driver_version} shows WSL2 no GPU",
            "In Windows' Device Manager check that the GPU is enabled, update its driver, then " + WSL_RESTART + ".",
        )
    if g.nvml == "ok":
        return Finding(
            "gpu.driver", Status.WARN, f"NVIDIA driver {g.driver_version} is loaded but sees no GPU",
            "Check that the card is seated and powered, and that it is not claimed by a VM passthrough (`nvidia-smi`).",
        )
    if g.nvml == "no_driver":
        return Finding(
            "gpu.driver", Status.WARN, "the NVIDIA library is installed but the kernel driver is not loaded",
            f"NVML said: {g.nvml_error}. Reboot after a driver install; with Secure Boot, enrol the driver's key "
            "or the module is refused. Until then generation runs on the CPU.",
        )
    if g.kernel_module_version:
        return Finding(
            "gpu.driver", Status.WARN,
            f"NVIDIA kernel module {g.kernel_module_version} is loaded but libnvidia-ml.so.1 cannot be loaded",
            f"NVML said: {g.nvml_error}. Install the driver's user-space libraries of the same version "
            f"(Debian/Ubuntu: the nvidia-utils / libnvidia-compute package for {g.kernel_module_version}).",
        )
    if g.nvml == "error":
        return Finding("gpu.driver", Status.WARN, "NVML failed", f"NVML said: {g.nvml_error}. Generation would run on the CPU.")
    if wsl2:
        return Finding(
            "gpu.driver", Status.INFO, "no NVIDIA GPU is visible to WSL2: generation runs on the CPU (tens of minutes a song)",
            "For the GPU, install or update the NVIDIA driver on Windows (it brings WSL2 support); "
            "do not install a Linux NVIDIA driver inside WSL.",
        )
    return Finding(
        "gpu.driver", Status.INFO, "no NVIDIA driver: generation runs on the CPU (tens of minutes a song)",
        f"NVML said: {g.nvml_error}.",
    )


@check("gpu.wsl_libcuda", "gpu", "platform")
def wsl_libcuda(facts: Facts) -> Finding:
    g, p = facts.gpu, facts.platform
    if p.kind != "wsl2":
        return Finding("gpu.wsl_libcuda", Status.SKIP, "not WSL2")
    if g.linux_driver_libs:
        return Finding(
            "gpu.wsl_libcuda", Status.FAIL,
            f"a Linux NVIDIA driver's libraries shadow the Windows driver's: {', '.join(g.linux_driver_libs)}",
            shadow_remedy(g.linux_driver_libs),
        )
    if g.wsl_libcuda:
        return Finding("gpu.wsl_libcuda", Status.OK, f"libcuda from the Windows driver: /usr/lib/wsl/lib/{g.wsl_libcuda[0]}")
    status = Status.FAIL if g.devices else Status.INFO
    seen = "/dev/dxg is present" if p.wsl_gpu_device else "/dev/dxg is missing too"
    return Finding(
        "gpu.wsl_libcuda", status, f"no libcuda.so under /usr/lib/wsl/lib ({seen})",
        "WSL2 gets CUDA from the Windows NVIDIA driver through /usr/lib/wsl/lib. Install or update the driver "
        f"on Windows, then {WSL_RESTART}.",
    )

"""gpu.*: the NVIDIA driver and, on WSL2, the Windows driver's libcuda."""

from __future__ import annotations

from doctor.checks.registry import check
from doctor.facts import Facts
from doctor.findings import Finding, Status
from doctor.units import gib


def cuda_text(cuda: tuple[int, int] | None) -> str:
    return f"CUDA {cuda[0]}.{cuda[1]}" if cuda else "CUDA unknown"


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
    if g.wsl_libcuda:
        return Finding("gpu.wsl_libcuda", Status.OK, f"libcuda from the Windows driver: /usr/lib/wsl/lib/{g.wsl_libcuda[0]}")
    status = Status.FAIL if g.devices else Status.INFO
    seen = "/dev/dxg is present" if p.wsl_gpu_device else "/dev/dxg is missing too"
    return Finding(
        "gpu.wsl_libcuda", status, f"no libcuda.so under /usr/lib/wsl/lib ({seen})",
        "WSL2 gets CUDA from the Windows NVIDIA driver through /usr/lib/wsl/lib. Install or update the driver "
        "on Windows, run `wsl --update` and `wsl --shutdown` in PowerShell, and reopen the distro.",
    )

"""Whether this machine's NVIDIA driver runs the image's CUDA flavour: the rule of the `torch.cuda_match`
check (`doctor.wheels.driver_runs`), applied to the CUDA version the image's labels name."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from doctor import wheels

LABEL_FLAVOUR = "io.drdoctor.flavour"  # containers/Dockerfile's labels
LABEL_CUDA = "io.drdoctor.cuda"


@dataclass(frozen=True)
class Driver:
    cuda: wheels.Version | None  # the highest CUDA the driver supports
    version: str | None  # "550.54.14"
    wsl: bool = False  # WSL2: the numbers are the Windows driver's, so only the CUDA version counts


@dataclass(frozen=True)
class Match:
    status: str  # "ok" | "warn" | "fail" | "unknown"
    message: str
    remedy: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def host_driver(nvml_snapshot: Path | None = None) -> Driver:
    """The driver of the machine drdoctor runs on (NVML, as the checkup reads it; a recorded snapshot in tests)."""
    from doctor.container.problems import is_wsl
    from doctor.probes import gpu, nvml

    source = nvml.recorded(nvml_snapshot) if nvml_snapshot else nvml.live
    facts = gpu.probe(Path("/"), source)
    return Driver(facts.cuda_driver, facts.driver_version, wsl=is_wsl())


def _runs(cuda: str, driver: Driver) -> str:
    return wheels.driver_runs(wheels.version_tuple(cuda)[:2], driver.cuda, None if driver.wsl else driver.version)


def fitting_flavour(driver: Driver, flavours: dict[str, Any]) -> str | None:
    """The flavour (doctor.container.images.load_flavours: the family's locked CUDA variants) with the newest CUDA this driver runs fully, else through
    minor-version compatibility; None when it runs none."""
    rows = flavours.get("flavour", {})
    for wanted in ("full", "mvc"):
        fitting = [name for name, row in rows.items() if driver.cuda and _runs(row["cuda"], driver) == wanted]
        if fitting:
            return max(fitting, key=lambda name: wheels.version_tuple(rows[name]["cuda"]))
    return None


def no_flavour_remedy(driver: Driver, flavours: dict[str, Any]) -> str:
    """What a driver that starts no flavour (before R525: CUDA 11.x) does: the exact driver to install."""
    from doctor.container.images import oldest_floor

    name, floor = oldest_floor(flavours)
    rows = flavours["flavour"]
    each = ", ".join(f"{n} needs {rows[n]['min_driver']}+" for n in sorted(rows))
    return (f"every flavour of the image needs a newer NVIDIA driver ({each}; this one is {driver.version or '?'}, "
            f"CUDA {driver.cuda[0]}.{driver.cuda[1]}): install driver {floor} or newer (the R{floor.split('.')[0]} "
            f"branch or later), then `drdoctor container build --flavour {name}`; until then "
            "`drdoctor container run generate --cpu` runs it without the GPU")


def judge(labels: dict[str, str] | None, driver: Driver | None, flavours: dict[str, Any]) -> Match:
    labels = labels or {}
    cuda, flavour = labels.get(LABEL_CUDA), labels.get(LABEL_FLAVOUR)
    if not cuda:
        return Match("unknown", f"the image has no {LABEL_CUDA} label (not built by `drdoctor container build`)")
    image = f"the image is built for CUDA {cuda}" + (f" (flavour {flavour})" if flavour else "")
    if driver is None:
        return Match("unknown", f"{image}; the engine runs on another machine, whose driver is not seen from here")
    if driver.cuda is None:
        return Match("unknown", f"{image}; no NVIDIA driver is seen on this machine")
    seen = f"{image}; the driver {driver.version} supports CUDA {driver.cuda[0]}.{driver.cuda[1]}"
    runs = _runs(cuda, driver)
    if runs == "full":
        return Match("ok", seen)
    better = fitting_flavour(driver, flavours)
    if better is None:
        return Match("fail", seen + ": CUDA does not start in this container (the driver is too old for it)",
                     no_flavour_remedy(driver, flavours))
    build = f"build the {better} flavour: `drdoctor container build --flavour {better}`"
    if runs == "mvc":
        return Match("warn", seen + ": it runs through minor-version compatibility (eager CUDA code works; code "
                     "compiled at run time may fail)", f"update the NVIDIA driver, or {build}")
    return Match("fail", seen + ": CUDA does not start in this container (the driver is too old for it)",
                 f"{build}, or update the NVIDIA driver")

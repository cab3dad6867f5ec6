"""What `drdoctor container status` reports: engine reachable, its version, the image, GPU support."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from doctor.container.endpoint import Endpoint, connect
from doctor.container.flavour_match import Driver, judge
from doctor.container.problems import TOOLKIT_REMEDY, classify_connect_error, is_wsl
from doctor.units import gib


@dataclass
class ImageFacts:
    ref: str
    present: bool
    id: str | None = None
    tags: list[str] = field(default_factory=list)
    size: int | None = None
    created: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Status:
    endpoint: str
    source: str
    reachable: bool
    problem: dict | None = None
    server_version: str | None = None
    api_version: str | None = None
    os: str | None = None
    runtimes: list[str] = field(default_factory=list)
    default_runtime: str | None = None
    cdi_spec_dirs: list[str] = field(default_factory=list)
    gpu: str = "unknown"  # "nvidia-runtime" | "cdi" | "not-configured" | "unknown"
    image: ImageFacts | None = None
    flavour_match: dict | None = None  # doctor.container.flavour_match.Match: the image's CUDA and this driver

    @property
    def ok(self) -> bool:
        return self.reachable

    def to_json(self) -> dict[str, Any]:
        return {"v": 1, **asdict(self)}


def gpu_support(info: dict[str, Any]) -> str:
    runtimes = info.get("Runtimes") or {}
    if "nvidia" in runtimes or str(info.get("DefaultRuntime", "")).startswith("nvidia"):
        return "nvidia-runtime"
    if info.get("CDISpecDirs"):
        return "cdi"
    return "not-configured"


def image_facts(client, ref: str) -> ImageFacts:
    import docker

    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        return ImageFacts(ref=ref, present=False)
    attrs = image.attrs
    return ImageFacts(
        ref=ref, present=True, id=image.id, tags=list(image.tags), size=attrs.get("Size"),
        created=attrs.get("Created"), labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
    )


def collect(endpoint: Endpoint, image: str | None, timeout: float = 10.0,
            driver: Callable[[], Driver] | None = None) -> Status:
    """`driver` reads this machine's NVIDIA driver, asked once the image is found; None when the engine's
    machine is another one."""
    import docker

    status = Status(endpoint=endpoint.url, source=endpoint.source, reachable=False)
    try:
        client = connect(endpoint, timeout=timeout)
        version = client.version()
        info = client.info()
    except docker.errors.DockerException as exc:
        status.problem = classify_connect_error(exc, endpoint, wsl=is_wsl()).to_json()
        return status
    try:
        status.reachable = True
        status.server_version = version.get("Version")
        status.api_version = version.get("ApiVersion")
        status.os = info.get("OperatingSystem")
        status.runtimes = sorted((info.get("Runtimes") or {}).keys())
        status.default_runtime = info.get("DefaultRuntime")
        status.cdi_spec_dirs = list(info.get("CDISpecDirs") or [])
        status.gpu = gpu_support(info)
        if image:
            status.image = image_facts(client, image)
            from doctor.container.images import load_flavours

            found = driver() if driver else None
            if status.image.present:
                status.flavour_match = judge(status.image.labels, found, load_flavours()).to_json()
            elif found is not None and found.cuda is not None:
                status.flavour_match = unfit_driver(found, load_flavours())
    finally:
        client.close()
    return status


def unfit_driver(driver, flavours: dict) -> dict | None:
    """For a missing image: a local driver that starts no flavour is told now which driver to install."""
    from doctor.container.flavour_match import Match, fitting_flavour, no_flavour_remedy

    if fitting_flavour(driver, flavours) is not None:
        return None
    return Match("fail", f"the driver {driver.version} supports CUDA {driver.cuda[0]}.{driver.cuda[1]}: no flavour "
                 "of the image starts on it", no_flavour_remedy(driver, flavours)).to_json()


def render(status: Status) -> list[str]:
    lines = [f"engine     {status.endpoint}  (from {status.source})"]
    if not status.reachable:
        problem = status.problem or {}
        lines.append(f"  FAIL     {problem.get('message', 'unreachable')}")
        lines.append(f"  fix:     {problem.get('remedy', '')}")
        return lines
    lines.append(f"  ok       Docker Engine {status.server_version} (API {status.api_version}) on {status.os}")
    if status.gpu == "nvidia-runtime":
        lines.append("  ok       GPU: the nvidia runtime is registered (`--gpus all` should work)")
    elif status.gpu == "cdi":
        lines.append(f"  ok       GPU: CDI spec folders {', '.join(status.cdi_spec_dirs)} (needs nvidia CDI specs)")
    else:
        lines.append(
            f"  warn     GPU: no nvidia runtime registered (runtimes: {', '.join(status.runtimes) or 'none'}); "
            "the engine may still have the NVIDIA hook, `run` will tell"
        )
        lines.append(f"  fix:     {TOOLKIT_REMEDY}")
    if status.image is not None:
        image = status.image
        if image.present:
            tags = ", ".join(image.tags) or "untagged"
            lines.append(
                f"image      {image.ref}\n  ok       present: {tags}, {gib(image.size)}, created {image.created}"
            )
            match = status.flavour_match or {}
            mark = {"ok": "ok", "warn": "warn", "fail": "FAIL"}.get(match.get("status", ""), "?")
            if match:
                lines.append(f"  {mark:<8} CUDA: {match['message']}")
            if match.get("remedy"):
                lines.append(f"  fix:     {match['remedy']}")
        else:
            lines.append(f"image      {image.ref}\n  FAIL     not present on this engine")
            lines.append("  fix:     `drdoctor fix container.use` builds it in the flavour this driver runs "
                         "(drdoctor's image is built, not published); `drdoctor container pull IMAGE` takes one "
                         "from a registry you name")
            match = status.flavour_match or {}
            if match:
                lines.append(f"  FAIL     CUDA: {match['message']}\n  fix:     {match['remedy']}")
    return lines

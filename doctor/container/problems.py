"""Engine failures turned into one sentence and its remedy. Pure functions of the error and a few facts."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

from runner.events import ExitCode

from doctor.container.endpoint import Endpoint

GPU_REFUSAL = 'could not select device driver "" with capabilities: [[gpu]]'

TOOLKIT_REMEDY = (
    "install the NVIDIA Container Toolkit on the machine that runs the engine "
    "(https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html: "
    "add NVIDIA's apt/dnf repository, install `nvidia-container-toolkit`, run "
    "`sudo nvidia-ctk runtime configure --runtime=docker` and restart the engine "
    "(`sudo systemctl restart docker`)); on Docker Desktop (Windows/WSL2) GPU support comes with the "
    "WSL2 backend and a current NVIDIA Windows driver. Or run on the CPU on purpose with `--cpu` "
    "(slow: tens of minutes to hours a song)"
)


@dataclass
class DockerProblem(Exception):
    kind: str  # not_running | permission | wsl_integration | unreachable | no_gpu_runtime | image | engine
    message: str
    remedy: str
    code: int = int(ExitCode.ENVIRONMENT)

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.remedy}"

    def to_json(self) -> dict:
        return {"kind": self.kind, "message": self.message, "remedy": self.remedy, "code": self.code}


def is_wsl(root: Path = Path("/")) -> bool:
    try:
        text = (root / "proc/version").read_text(encoding="utf-8", errors="replace").lower()
    except OSError:
        return False
    return "microsoft" in text or "wsl" in text


def _causes(exc: BaseException):
    seen = set()
    stack = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        stack.extend([item.__cause__, item.__context__])
        stack.extend(arg for arg in getattr(item, "args", ()) if isinstance(arg, BaseException))


def _errno_of(exc: BaseException) -> int | None:
    for item in _causes(exc):
        if isinstance(item, OSError) and item.errno:
            return item.errno
    text = " ".join(str(item) for item in _causes(exc))
    if "Permission denied" in text:
        return errno.EACCES
    if "No such file or directory" in text:
        return errno.ENOENT
    if "Connection refused" in text:
        return errno.ECONNREFUSED
    return None


def classify_connect_error(exc: BaseException, endpoint: Endpoint, wsl: bool = False) -> DockerProblem:
    """Why the engine at `endpoint` could not be reached, and what to do about it."""
    where = f"{endpoint.url} (from {endpoint.source})"
    code = _errno_of(exc)
    if code == errno.EACCES:
        return DockerProblem(
            "permission",
            f"permission denied on the Docker socket {where}",
            "add yourself to the `docker` group (`sudo usermod -aG docker $USER`), then log out and in again "
            "(or run `newgrp docker`); rootless Docker: point DOCKER_HOST at your own socket",
        )
    if code in (errno.ENOENT, errno.ECONNREFUSED) and endpoint.socket_path:
        if wsl:
            return DockerProblem(
                "wsl_integration",
                f"no Docker engine answers at {where} inside WSL",
                "start Docker Desktop on Windows and turn on Settings > Resources > WSL Integration for this "
                "distribution (or install docker.io inside WSL and start it: `sudo service docker start`)",
            )
        state = "does not exist" if code == errno.ENOENT else "exists but nothing listens on it"
        return DockerProblem(
            "not_running",
            f"the Docker daemon is not running: socket {where} {state}",
            "start it: `sudo systemctl start docker` (or `sudo service docker start`); Docker Desktop: start "
            "the app; another engine: set DOCKER_HOST or `docker context use NAME`",
        )
    detail = next((str(item) for item in _causes(exc) if str(item)), type(exc).__name__)
    if "paramiko" in detail:
        return DockerProblem(
            "unreachable",
            f"{where} is an ssh:// engine and the Docker SDK's ssh transport is not installed",
            "pip install 'drdoctor[ssh]' (or `pip install paramiko`) in drdoctor's environment",
        )
    return DockerProblem(
        "unreachable",
        f"cannot reach the Docker engine at {where}: {detail}",
        "check that the engine runs and that DOCKER_HOST / the docker context point at it"
        + ("; for ssh:// hosts check `ssh HOST docker version` works without a password prompt"
           if endpoint.url.startswith("ssh://") else ""),
    )


def is_gpu_refusal(exc: BaseException) -> bool:
    return any("could not select device driver" in str(item) for item in _causes(exc))


def gpu_refused(image: str) -> DockerProblem:
    return DockerProblem(
        "no_gpu_runtime",
        f"the engine refused the GPU request for {image}: {GPU_REFUSAL}. "
        "No NVIDIA container runtime is configured for this engine, so `--gpus all` cannot work",
        TOOLKIT_REMEDY,
    )


def api_error_text(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    if explanation:
        return explanation.decode() if isinstance(explanation, bytes) else str(explanation)
    return str(exc)

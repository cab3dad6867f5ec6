"""Docker: can a daemon be reached, which version, is GPU support (NVIDIA runtime or CDI) set up.

Asks the Engine API directly (GET /version and /info over the socket DOCKER_HOST names) with a plain
socket: importing the Docker SDK alone costs ~130 ms, more than the whole checkup takes.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlparse

from doctor.probes._fs import at

DEFAULT_HOST = "unix:///var/run/docker.sock"
TIMEOUT = 2.0


@dataclass(frozen=True)
class DockerFacts:
    host: str  # DOCKER_HOST, or the default socket
    state: str  # "ok", "no_socket", "not_running", "permission_denied", "timeout", "bad_answer", "unsupported_host"
    error: str | None
    sdk_installed: bool
    server_version: str | None = None
    api_version: str | None = None
    runtimes: tuple[str, ...] = ()
    cdi_spec_dirs: tuple[str, ...] = ()

    @property
    def gpu_support(self) -> bool:
        return "nvidia" in self.runtimes or bool(self.cdi_spec_dirs)


def _get(address: tuple[int, object], path: str) -> dict:
    """GET `path` from the Engine API over HTTP/1.0 (the daemon closes the connection after answering)."""
    family, target = address
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(target)
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    if not status_line.startswith("HTTP/") or status_line.split()[1:2] != ["200"]:
        raise ValueError(f"GET {path} answered {status_line or 'nothing'!r}")
    return json.loads(body)


def probe(root: Path, env: Mapping[str, str]) -> DockerFacts:
    host = env.get("DOCKER_HOST") or DEFAULT_HOST
    sdk = find_spec("docker") is not None
    url = urlparse(host)
    if url.scheme == "unix":
        path = at(root, url.path)
        if not path.exists():
            return DockerFacts(host, "no_socket", f"{url.path} does not exist", sdk)
        address: tuple[int, object] = (socket.AF_UNIX, str(path))
    elif url.scheme in ("tcp", "http") and url.hostname:
        address = (socket.AF_INET6 if ":" in url.hostname else socket.AF_INET, (url.hostname, url.port or 2375))
    else:
        return DockerFacts(host, "unsupported_host", f"DOCKER_HOST={host}: only unix:// and tcp:// are probed", sdk)
    try:
        version = _get(address, "/version")
        info = _get(address, "/info")
    except PermissionError as exc:
        return DockerFacts(host, "permission_denied", str(exc), sdk)
    except (ConnectionRefusedError, FileNotFoundError) as exc:
        return DockerFacts(host, "not_running", str(exc) or type(exc).__name__, sdk)
    except (TimeoutError, socket.timeout):
        return DockerFacts(host, "timeout", f"no answer within {TIMEOUT:.0f} s", sdk)
    except (OSError, ValueError) as exc:
        return DockerFacts(host, "bad_answer", f"{type(exc).__name__}: {exc}", sdk)
    return DockerFacts(
        host,
        "ok",
        None,
        sdk,
        server_version=version.get("Version"),
        api_version=version.get("ApiVersion"),
        runtimes=tuple(sorted((info.get("Runtimes") or {}).keys())),
        cdi_spec_dirs=tuple(info.get("CDISpecDirs") or ()),
    )

"""Which Docker engine to talk to, the way the docker CLI chooses it, and connecting to it.

Order: an explicit `--docker-host`, then `DOCKER_HOST` (with `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`,
read by the SDK's `from_env`), then the docker context named by `DOCKER_CONTEXT` or by `currentContext`
in `$DOCKER_CONFIG/config.json` (its endpoint in `contexts/meta/*/meta.json`, TLS files in
`contexts/tls/<id>/docker/`), then the default socket `unix:///var/run/docker.sock`.
`ssh://user@host` endpoints work through the SDK's ssh transport (needs paramiko: `drdoctor[ssh]`).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

DEFAULT_HOST = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class Endpoint:
    url: str
    source: str  # "--docker-host", "DOCKER_HOST", "context NAME", "default"
    tls_dir: str | None = None  # a context's TLS folder (ca.pem, cert.pem, key.pem)
    skip_tls_verify: bool = False
    from_env: bool = False  # let the SDK read DOCKER_HOST and its TLS variables itself

    @property
    def is_local(self) -> bool:
        """Bind-mount sources are paths on THIS machine only for a local socket."""
        return self.url.startswith(("unix://", "npipe://")) or self.url.startswith("/")

    @property
    def socket_path(self) -> str | None:
        if self.url.startswith("unix://"):
            return self.url[len("unix://"):]
        return None


def docker_config_dir(env: Mapping[str, str]) -> Path:
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"])
    return Path(env.get("HOME") or Path.home()) / ".docker"


def current_context(env: Mapping[str, str]) -> str | None:
    if env.get("DOCKER_CONTEXT"):
        return env["DOCKER_CONTEXT"]
    try:
        config = json.loads((docker_config_dir(env) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = config.get("currentContext") if isinstance(config, dict) else None
    return name if isinstance(name, str) and name else None


def context_endpoint(name: str, env: Mapping[str, str]) -> Endpoint | None:
    """The docker endpoint of context `name`, or None when no meta.json names it."""
    contexts = docker_config_dir(env) / "contexts"
    for meta in sorted((contexts / "meta").glob("*/meta.json")):
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("Name") != name:
            continue
        docker_ep = (data.get("Endpoints") or {}).get("docker") or {}
        host = docker_ep.get("Host")
        if not host:
            return None
        tls = contexts / "tls" / meta.parent.name / "docker"
        return Endpoint(
            url=host,
            source=f"context {name}",
            tls_dir=str(tls) if tls.is_dir() else None,
            skip_tls_verify=bool(docker_ep.get("SkipTLSVerify")),
        )
    return None


class EndpointError(Exception):
    """The configuration names an engine that cannot be found (a missing context)."""


def resolve(flag: str | None = None, env: Mapping[str, str] | None = None) -> Endpoint:
    env = os.environ if env is None else env
    if flag:
        return Endpoint(url=flag, source="--docker-host")
    if env.get("DOCKER_HOST"):
        return Endpoint(url=env["DOCKER_HOST"], source="DOCKER_HOST", from_env=True)
    name = current_context(env)
    if name and name != "default":
        endpoint = context_endpoint(name, env)
        if endpoint is None:
            raise EndpointError(
                f"docker context {name!r} is selected but {docker_config_dir(env)}/contexts has no endpoint for it"
            )
        return endpoint
    return Endpoint(url=DEFAULT_HOST, source="default")


def connect(endpoint: Endpoint, timeout: float = 60.0, env: Mapping[str, str] | None = None):
    """A DockerClient for `endpoint`. Raises the SDK's DockerException when the engine cannot be reached
    (the SDK asks the engine for its API version while constructing the client)."""
    import docker  # imported here: `drdoctor check` does not need the SDK loaded

    # ssh://: the SDK's ssh transport needs paramiko installed (drdoctor[ssh]) in any case; it then runs
    # the system `ssh` client when there is one (~/.ssh/config, agent, known_hosts, ProxyJump all work),
    # else paramiko itself. The remote side runs `docker system dial-stdio`.
    use_ssh_client = endpoint.url.startswith("ssh://") and shutil.which("ssh") is not None
    if endpoint.from_env:
        environment = dict(os.environ if env is None else env)
        return docker.from_env(timeout=int(timeout), environment=environment, use_ssh_client=use_ssh_client)
    tls = None
    if endpoint.tls_dir and endpoint.url.startswith("tcp://"):
        from docker.tls import TLSConfig

        folder = Path(endpoint.tls_dir)
        cert = (str(folder / "cert.pem"), str(folder / "key.pem")) if (folder / "cert.pem").exists() else None
        ca = str(folder / "ca.pem") if (folder / "ca.pem").exists() else None
        tls = TLSConfig(client_cert=cert, ca_cert=ca, verify=not endpoint.skip_tls_verify and ca is not None)
    return docker.DockerClient(
        base_url=endpoint.url, tls=tls, timeout=int(timeout), use_ssh_client=use_ssh_client
    )

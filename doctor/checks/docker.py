"""docker.*: the container path: a reachable daemon, and GPU support in it."""

from __future__ import annotations

from doctor.checks.registry import check
from doctor.facts import Facts
from doctor.findings import Finding, Status


@check("docker.daemon", "docker", "platform")
def daemon(facts: Facts) -> Finding:
    d, wsl2 = facts.docker, facts.platform.kind == "wsl2"
    if d.state == "ok":
        return Finding("docker.daemon", Status.OK, f"Docker {d.server_version} (API {d.api_version}) at {d.host}")
    optional = "Docker is only needed for the CUDA container (`drdoctor container`)."
    if d.state == "no_socket":
        hint = ("On WSL2 with Docker Desktop, turn on Settings > Resources > WSL integration for this distro. "
                if wsl2 else "Install Docker (Debian/Ubuntu: `sudo apt-get install docker.io`) and start it. ")
        return Finding("docker.daemon", Status.INFO, f"no Docker daemon: {d.error}", hint + optional)
    if d.state == "permission_denied":
        return Finding("docker.daemon", Status.WARN, f"permission denied on {d.host}",
                       "Add yourself to the docker group: `sudo usermod -aG docker $USER`, then log out and in. " + optional)
    if d.state == "not_running":
        return Finding("docker.daemon", Status.WARN, f"nothing answers at {d.host} ({d.error})",
                       "Start the daemon (`sudo systemctl start docker`, or start Docker Desktop). " + optional)
    return Finding("docker.daemon", Status.WARN, f"Docker at {d.host}: {d.state} ({d.error})", optional)


@check("docker.gpu", "docker", "gpu")
def gpu(facts: Facts) -> Finding:
    d, g = facts.docker, facts.gpu
    if d.state != "ok":
        return Finding("docker.gpu", Status.SKIP, "no Docker daemon to ask")
    support = ", ".join(x for x in (
        "nvidia runtime" if "nvidia" in d.runtimes else "",
        f"CDI specs in {', '.join(d.cdi_spec_dirs)}" if d.cdi_spec_dirs else "") if x)
    if d.gpu_support and g.driver_works:
        return Finding("docker.gpu", Status.OK, f"containers can use the GPU ({support})",
                       "The CUDA container is an alternative to fixing this machine's Python environment.",
                       fix="container.use")
    if d.gpu_support:
        return Finding("docker.gpu", Status.INFO, f"GPU support configured ({support}), but no working NVIDIA driver here")
    if g.driver_works:
        return Finding("docker.gpu", Status.WARN, f"Docker has no GPU support (runtimes: {', '.join(d.runtimes) or 'none'})",
                       "Install the NVIDIA Container Toolkit and run `sudo nvidia-ctk runtime configure --runtime=docker`, "
                       "then restart Docker.")
    return Finding("docker.gpu", Status.INFO, "no GPU support in Docker, and no GPU here: containers run on the CPU")

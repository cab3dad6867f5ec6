"""The docker probe against real sockets: absent, refusing, denied, silent, and a real dockerd."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from doctor.checks.docker import daemon
from doctor.facts import Facts
from doctor.probes import docker
from doctor.probes.gpu import GpuFacts
from doctor.probes.platform import PlatformFacts

ROOT = Path("/")


def platform(kind: str = "linux") -> PlatformFacts:
    return PlatformFacts(kind, None, None, None, None, False, False, None, 1, (), ())


def judged(facts: docker.DockerFacts, kind: str = "linux"):
    return daemon(Facts(platform=platform(kind), docker=facts))


@pytest.fixture
def sock_dir():
    """A short folder for sockets: AF_UNIX paths are limited to ~107 bytes, pytest's tmp paths can be longer."""
    folder = Path(tempfile.mkdtemp(prefix="checkup-sock-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_no_socket_is_absence_not_an_error(tmp_path):
    facts = docker.probe(ROOT, {"DOCKER_HOST": f"unix://{tmp_path}/nothing.sock"})
    assert facts.state == "no_socket" and "nothing.sock" in facts.error
    assert judged(facts).status.value == "info"
    assert "WSL integration" in judged(facts, "wsl2").detail


def test_a_socket_nobody_listens_on_is_not_running(sock_dir):
    path = sock_dir / "refuse.sock"
    with socket.socket(socket.AF_UNIX) as bound:
        bound.bind(str(path))  # bound but never listening: connect() is refused
        facts = docker.probe(ROOT, {"DOCKER_HOST": f"unix://{path}"})
    assert facts.state == "not_running"
    assert judged(facts).status.value == "warn" and "systemctl start docker" in judged(facts).detail


def test_a_closed_tcp_port_is_not_running():
    with socket.socket() as probe_port:
        probe_port.bind(("127.0.0.1", 0))
        port = probe_port.getsockname()[1]
    facts = docker.probe(ROOT, {"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})
    assert facts.state == "not_running"


def test_a_daemon_that_never_answers_times_out(sock_dir):
    path = sock_dir / "silent.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen()
        started = time.monotonic()
        facts = docker.probe(ROOT, {"DOCKER_HOST": f"unix://{path}"})
    assert facts.state == "timeout"
    assert time.monotonic() - started < docker.TIMEOUT * 2 + 1


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to another uid")
def test_permission_denied_on_the_socket_for_a_user_outside_the_group(sock_dir):
    """As root nothing is denied, so the probe runs as uid 65534 against a root-only socket."""
    sock_dir.chmod(0o755)  # the folder may be entered; the socket itself is root's alone
    path = sock_dir / "root-only.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen()
        os.chmod(path, 0o600)
        code = ("from pathlib import Path; from doctor.probes import docker; "
                f"print(docker.probe(Path('/'), {{'DOCKER_HOST': 'unix://{path}'}}).state)")
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
            capture_output=True, text=True, timeout=30, cwd="/", env={"PYTHONPATH": str(Path(__file__).parents[2])},
        )
    if done.returncode != 0 and "Permission denied" in done.stderr and "docker" not in done.stdout:
        pytest.skip(f"uid 65534 cannot run this interpreter: {done.stderr.strip()[-200:]}")
    assert done.stdout.strip() == "permission_denied", done.stderr
    denied = docker.DockerFacts(f"unix://{path}", "permission_denied", "[Errno 13] Permission denied", True)
    assert "usermod -aG docker" in judged(denied).detail


@pytest.fixture
def real_dockerd():
    if os.geteuid() != 0 or not shutil.which("dockerd"):
        pytest.skip("needs root and dockerd (apt-get install docker.io)")
    folder = Path(tempfile.mkdtemp(prefix="checkup-dockerd-", dir="/tmp"))
    sock = folder / "d.sock"
    process = subprocess.Popen(
        ["dockerd", "--data-root", str(folder / "data"), "--exec-root", str(folder / "exec"),
         "--pidfile", str(folder / "d.pid"), "--storage-driver", "vfs", "--iptables=false",
         "--ip6tables=false", "--bridge=none", "-H", f"unix://{sock}"],
        stdout=subprocess.DEVNULL, stderr=open(folder / "log", "wb"),
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and docker.probe(ROOT, {"DOCKER_HOST": f"unix://{sock}"}).state != "ok":
            if process.poll() is not None:
                pytest.skip(f"dockerd exited: {(folder / 'log').read_text()[-300:]}")
            time.sleep(0.2)
        yield f"unix://{sock}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_real_daemon(real_dockerd):
    facts = docker.probe(ROOT, {"DOCKER_HOST": real_dockerd})
    assert facts.state == "ok" and facts.server_version and facts.api_version
    assert "runc" in facts.runtimes and not facts.gpu_support
    assert judged(facts).status.value == "ok"
    from doctor.checks.docker import gpu as docker_gpu

    no_gpu = GpuFacts("no_library", "", None, None, None, None, (), ())
    assert docker_gpu(Facts(docker=facts, gpu=no_gpu)).status.value == "info"

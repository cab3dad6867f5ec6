"""A real, private Docker engine and a real local registry for the container tests.

dockerd runs with vfs storage, no bridge, no iptables, on its own socket under a short /tmp folder
(unix socket paths are limited to 108 bytes); the Debian `docker-registry` serves 127.0.0.1 on a free
port with a no-auth config. Both start once per session and are stopped at the end. The tests skip
only when the programs are not installed (CI installs them) or when not running as root (dockerd
needs root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.events import encode, make_event

REPO = Path(__file__).resolve().parents[2]
BUSYBOX_APPLETS = ("sh", "cat", "echo", "sleep", "mkdir", "touch", "printf", "sed", "rm", "ls", "true", "kill")


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")


@dataclass
class Engine:
    host: str  # unix:///...
    socket: Path
    root: Path
    client: object  # docker.DockerClient


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up in {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextlib.contextmanager
def _private_engine(extra: list[str] = (), path_prefix: str | None = None):
    dockerd = _which("dockerd")
    if dockerd is None:
        pytest.skip("dockerd is not installed (apt-get install docker.io); CI installs it")
    if os.geteuid() != 0:
        pytest.skip("dockerd needs root; these tests start a private engine and must run as root")
    import docker

    root = Path(tempfile.mkdtemp(prefix="drd-", dir="/tmp"))
    root.chmod(0o755)  # so an unprivileged client reaches the socket itself (permission test)
    sock = root / "d.sock"
    log = root / "dockerd.log"
    env = dict(os.environ)
    if path_prefix:
        env["PATH"] = f"{path_prefix}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(
            [dockerd, "--storage-driver", "vfs", "--iptables=false", "--ip6tables=false", "--bridge=none",
             "-H", f"unix://{sock}", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
             "--pidfile", str(root / "dockerd.pid"), *extra],
            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True, env=env,
        )
    client = None

    def up() -> bool:
        nonlocal client
        if not sock.exists():
            return False
        try:
            client = docker.DockerClient(base_url=f"unix://{sock}", timeout=10)
            return client.ping()
        except docker.errors.DockerException:
            return False

    try:
        _wait_for(up, 60, "dockerd", proc, log)
        yield Engine(host=f"unix://{sock}", socket=sock, root=root, client=client)
    finally:
        if client is not None:
            try:
                for c in client.containers.list(all=True):
                    c.remove(force=True)
            except docker.errors.DockerException:
                pass
            client.close()
        _stop(proc)
        data = root / "data"
        if os.path.ismount(data):  # dockerd bind-mounts its data root; a killed one leaves the mount
            subprocess.run(["umount", "-l", str(data)], check=False, timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def engine():
    with _private_engine() as eng:
        yield eng


# A stand-in for the NVIDIA Container Toolkit: dockerd registers its "nvidia" device driver (the one that
# serves `--gpus`) when `nvidia-container-runtime-hook` is on its PATH, and `--add-runtime nvidia=runc`
# lists an nvidia runtime. The hook here does nothing, so no GPU appears, but the engine ACCEPTS the GPU
# request exactly as on a machine with the toolkit, and passes NVIDIA_VISIBLE_DEVICES to the container.
FAKE_HOOK = "#!/bin/sh\ncat > /dev/null\nexit 0\n"


@pytest.fixture(scope="session")
def gpu_engine(tmp_path_factory):
    hooks = tmp_path_factory.mktemp("nvidia-hook")
    hook = hooks / "nvidia-container-runtime-hook"
    hook.write_text(FAKE_HOOK)
    hook.chmod(0o755)
    runc = _which("runc") or "runc"
    with _private_engine(["--add-runtime", f"nvidia={runc}"], path_prefix=str(hooks)) as eng:
        yield eng


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def registry(engine):
    program = _which("docker-registry")
    if program is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry); CI installs it")
    port = _free_port()
    folder = engine.root / "registry"
    folder.mkdir()
    config = folder / "config.yml"
    config.write_text(
        f"version: 0.1\nstorage: {{filesystem: {{rootdirectory: {folder / 'data'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\nlog: {{level: warn}}\n"
    )
    log = folder / "registry.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen([program, "serve", str(config)], stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def up() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    try:
        _wait_for(up, 20, "docker-registry", proc, log)
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def busybox_image(engine) -> str:
    return import_busybox(engine)


def import_busybox(engine) -> str:
    """A 2 MB image: /bin/busybox and a few applet links, imported from a tar stream (no registry)."""
    busybox = _which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed (apt-get install busybox-static); CI installs it")
    tar_path = engine.root / "rootfs.tar"
    with tarfile.open(tar_path, "w") as tar:
        for folder in ("bin", "tmp"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in BUSYBOX_APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
    engine.client.api.import_image_from_data(tar_path.read_bytes(), repository="drd-busybox", tag="test")
    return "drd-busybox:test"


# The fake runner: a busybox sh script with the runner's command line. It records the arguments it got
# and what it could see, prints real event lines (built below with runner.events), and exits with the
# code chosen by `--fault exit:N`; `--fault sleep:S` waits S s (SIGINT -> the cancelled events, exit
# 130); `--fault ignore-int` makes it ignore SIGINT.
FAKE_RUNNER = r"""#!/bin/sh
code=0; nap=0; ignore=0; rundir=/out/runs; lyrics=""
printf '%s\n' "$@" > /tmp/args
while [ $# -gt 0 ]; do
  case "$1" in
    --fault)
      case "$2" in
        exit:*) code="${2#exit:}" ;;
        sleep:*) nap="${2#sleep:}" ;;
        ignore-int) ignore=1 ;;
        crash) echo "Traceback (most recent call last): boom" >&2; exit 1 ;;
      esac
      shift 2 ;;
    --run-dir) rundir="$2"; shift 2 ;;
    --lyrics) lyrics="$2"; shift 2 ;;
    *) shift ;;
  esac
done
run="$rundir/fake-run"
mkdir -p "$run"
cat /tmp/args > "$run/args.txt"
echo "${NVIDIA_VISIBLE_DEVICES:-unset}" > "$run/nvidia_visible_devices.txt"
[ -n "$lyrics" ] && cat "$lyrics" > "$run/lyrics.txt"
if touch /models/probe 2>/dev/null; then echo rw > "$run/models.txt"; else echo ro > "$run/models.txt"; fi
echo "fake runner: a log line on stderr" >&2
cat /events/start.ndjson
if [ "$ignore" = 1 ]; then trap '' INT; else trap 'cat /events/cancelled.ndjson; exit 130' INT TERM; fi
if [ "$nap" != 0 ]; then sleep "$nap" & wait $!; fi
if [ "$code" = 0 ]; then cat /events/ok.ndjson; else sed "s/424242/$code/g" /events/fail.ndjson; fi
exit "$code"
"""

RUN_ID = "fake-run"


def fake_events() -> dict[str, list[dict]]:
    ev = lambda type_, **f: make_event(type_, RUN_ID, **f)  # noqa: E731
    start = [
        ev("run_started", request={"style": "fake"}, device="cpu", dtype="float32",
           versions={"python": "sh", "torch": None, "drdoctor": "test"}),
        ev("stage_started", stage="preflight", total=None, unit=None),
        ev("stage_finished", stage="preflight", seconds=0.01),
        ev("stage_started", stage="sample", total=3, unit="step"),
        ev("stage_progress", stage="sample", done=1, total=3),
    ]
    ok = [
        ev("stage_progress", stage="sample", done=3, total=3),
        ev("stage_finished", stage="sample", seconds=0.2),
        ev("check", stage="validate", name="peak", ok=True, value=0.8, limit=1.0, message="peak below 1"),
        ev("artifact", kind="wav", path="/out/song.wav", bytes=44),
        ev("run_finished", ok=True, exit_code=0, output="/out/song.wav", seconds=0.3),
    ]
    fail = [
        ev("error", stage="sample", code=424242, message="fake failure", remedy="none"),
        ev("run_finished", ok=False, exit_code=424242, output=None, seconds=0.3),
    ]
    cancelled = [
        ev("error", stage="sample", code=130, message="cancelled", remedy="--resume the run folder"),
        ev("run_finished", ok=False, exit_code=130, output=None, seconds=0.3),
    ]
    return {"start": start, "ok": ok, "fail": fail, "cancelled": cancelled}


TEST_DOCKERFILE = """ARG BASE=drd-busybox:test
FROM ${BASE}
COPY payload.bin /payload.bin
COPY fake-runner.sh /fake-runner.sh
COPY events/ /events/
ENTRYPOINT ["/bin/sh", "/fake-runner.sh"]
"""


@pytest.fixture(scope="session")
def fake_context(busybox_image, engine) -> Path:
    """A build context for the fake-runner image (a 600 kB payload gives the pull something to count)."""
    ctx = engine.root / "fake-ctx"
    (ctx / "events").mkdir(parents=True)
    (ctx / "Dockerfile").write_text(TEST_DOCKERFILE)
    (ctx / "fake-runner.sh").write_text(FAKE_RUNNER)
    (ctx / "payload.bin").write_bytes(os.urandom(600_000))
    for name, events in fake_events().items():
        (ctx / "events" / f"{name}.ndjson").write_text("".join(encode(e) + "\n" for e in events))
    return ctx


@pytest.fixture(scope="session")
def fake_image(engine, fake_context) -> str:
    tag = "drd-fake:run"
    engine.client.images.build(path=str(fake_context), tag=tag, rm=True)
    return tag


@pytest.fixture(scope="session")
def gpu_fake_image(gpu_engine, fake_context) -> str:
    import_busybox(gpu_engine)
    tag = "drd-fake:run"
    gpu_engine.client.images.build(path=str(fake_context), tag=tag, rm=True)
    return tag


def run_drdoctor(args: list[str], engine: Engine | None = None, env: dict | None = None, timeout: float = 60,
             **kw) -> subprocess.CompletedProcess:
    """`drdoctor ...` as a real process, pointed at the private engine through DOCKER_HOST."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    full_env["DRDOCTOR_CONFIG"] = str(Path(tempfile.gettempdir()) / "drd-no-config.toml")
    if engine is not None:
        full_env["DOCKER_HOST"] = engine.host
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "doctor", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=kw.pop("cwd", None), **kw)


@pytest.fixture
def drdoctor():
    """`drdoctor(args, engine=None, env=None)` -> CompletedProcess of a real `python -m doctor` process."""
    return run_drdoctor


@pytest.fixture(scope="session")
def fake_ssh(engine, tmp_path_factory):
    """PATH folder with an `ssh` stand-in: it logs its arguments and runs what the remote side of a
    `DOCKER_HOST=ssh://...` engine runs, `docker system dial-stdio`, against the private engine. So the
    SDK's ssh transport (shell-out mode), our endpoint handling and the event streaming over it are real;
    sshd itself is not part of the test."""
    docker_cli = _which("docker")
    if docker_cli is None:
        pytest.skip("the docker CLI (docker.io) is needed for `docker system dial-stdio`")
    pytest.importorskip("paramiko", reason="the SDK's ssh transport needs paramiko (drdoctor[ssh], in dev extras)")
    folder = tmp_path_factory.mktemp("fake-ssh")
    script = folder / "ssh"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {folder}/args.log\n'
        f"exec env DOCKER_HOST={engine.host} DOCKER_CONFIG={folder}/cfg {docker_cli} system dial-stdio\n"
    )
    script.chmod(0o755)
    return folder

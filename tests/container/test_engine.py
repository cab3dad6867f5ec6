"""`drdoctor container` against a real private Docker engine and a real local registry (conftest.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.events import decode, problems
from doctor.container.problems import GPU_REFUSAL


pytestmark = pytest.mark.timeout(120)


def _events(stdout: str) -> list[dict]:
    events = [decode(line) for line in stdout.splitlines() if line.strip()]
    assert all(e is not None for e in events), stdout
    return events


def _leftovers(engine) -> list:
    return engine.client.containers.list(all=True, filters={"label": "drdoctor.run"})


# ---- status and engine problems ------------------------------------------------------------------

def test_status_reports_engine_image_and_gpu_support(engine, busybox_image, drdoctor):
    done = drdoctor(["container", "status", "--image", busybox_image, "--json"], engine)
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts["reachable"] and facts["source"] == "DOCKER_HOST"
    # The daemon's own version, asked two other ways: its API answer and the dockerd binary that serves it.
    assert facts["server_version"] == engine.client.version()["Version"]
    dockerd = subprocess.run(["dockerd", "--version"], capture_output=True, text=True, timeout=30,
                             env={"PATH": "/usr/sbin:/sbin:/usr/bin:/bin"}).stdout
    assert f"version {facts['server_version']}," in dockerd, (facts["server_version"], dockerd)
    assert facts["gpu"] == "not-configured"  # this engine has no nvidia runtime
    assert facts["image"]["present"] and facts["image"]["size"] > 1_000_000

    text = drdoctor(["container", "status", "--image", "nothing-here:1"], engine)
    assert text.returncode == 1
    assert "Docker Engine" in text.stdout and "not present" in text.stdout
    assert "NVIDIA Container Toolkit" in text.stdout  # the GPU remedy


def test_daemon_not_running_missing_socket(engine, tmp_path, drdoctor):
    missing = f"unix://{tmp_path}/no.sock"
    done = drdoctor(["container", "status", "--docker-host", missing])
    assert done.returncode == 3
    assert "the Docker daemon is not running" in done.stdout and "does not exist" in done.stdout
    assert "systemctl start docker" in done.stdout
    pulled = drdoctor(["container", "pull", "x:1", "--docker-host", missing])
    assert pulled.returncode == 3 and "not running" in pulled.stderr


def test_daemon_stopped_leaves_a_dead_socket(tmp_path, drdoctor):
    """A daemon that died leaves its socket file behind: connecting is refused."""
    path = Path("/tmp") / f"drd-dead-{os.getpid()}.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()  # file stays, nobody listens
    try:
        done = drdoctor(["container", "status", "--json"], env={"DOCKER_HOST": f"unix://{path}"})
        assert done.returncode == 3
        problem = json.loads(done.stdout)["problem"]
        assert problem["kind"] == "not_running" and "nothing listens" in problem["message"]
    finally:
        path.unlink()


def _status_as(uid: int, gid: int, groups: list[int], host: str) -> tuple[int, str]:
    """`drdoctor container status` run in a forked child that has dropped root for uid/gid/groups."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop privileges for real, then run the command with stdout into the pipe
        code = 99
        try:
            os.close(read_fd)
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
            os.environ.update(HOME="/tmp", DRDOCTOR_CONFIG="/nonexistent")
            os.dup2(write_fd, 1)
            sys.stdout = os.fdopen(1, "w", closefd=False)
            from doctor.cli import main

            code = main(["container", "status", "--docker-host", host])
            sys.stdout.flush()
        except BaseException as exc:  # noqa: BLE001 - report anything to the parent
            os.write(write_fd, f"child failed: {exc!r}".encode())
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode()


def test_permission_denied_for_a_user_outside_the_docker_group(engine):
    """The client runs as `nobody` (a forked child that dropped root) against the engine's real socket
    (mode 0660, root:docker); the same user with the socket's group gets in."""
    mode = engine.socket.stat().st_mode & 0o777
    assert mode & 0o006 == 0, f"socket mode {mode:o} lets anyone in"
    code, out = _status_as(65534, 65534, [], engine.host)
    assert code == 3, out
    assert "permission denied on the Docker socket" in out and "usermod -aG docker" in out
    code, out = _status_as(65534, 65534, [engine.socket.stat().st_gid], engine.host)
    assert code in (0, 1) and "Docker Engine" in out, out


def test_docker_context_is_honoured(engine, tmp_path, drdoctor):
    config = tmp_path / "dockercfg"
    meta = config / "contexts" / "meta" / "0123abcd"
    meta.mkdir(parents=True)
    (config / "config.json").write_text(json.dumps({"currentContext": "drdtest"}))
    (meta / "meta.json").write_text(json.dumps(
        {"Name": "drdtest", "Metadata": {}, "Endpoints": {"docker": {"Host": engine.host, "SkipTLSVerify": False}}}
    ))
    done = drdoctor(["container", "status", "--json"], env={"DOCKER_CONFIG": str(config)})
    assert done.returncode == 1, done.stdout + done.stderr  # reached; the default image is not there
    facts = json.loads(done.stdout)
    assert facts["reachable"] and facts["source"] == "context drdtest" and facts["endpoint"] == engine.host

    (config / "config.json").write_text(json.dumps({"currentContext": "gone"}))
    missing = drdoctor(["container", "status"], env={"DOCKER_CONFIG": str(config)})
    assert missing.returncode == 3 and "docker context 'gone'" in missing.stderr


# ---- build, push, pull ---------------------------------------------------------------------------

def test_build_push_and_pull_with_layer_progress(engine, registry, fake_context, drdoctor):
    ref = f"{registry}/drd-fake:1"
    built = drdoctor(["container", "build", "--context", str(fake_context), "--file", "Dockerfile",
                      "--tag", ref, "--json"], engine)
    assert built.returncode == 0, built.stdout + built.stderr
    lines = [json.loads(x) for x in built.stdout.splitlines()]
    assert any(e["type"] == "log" and "COPY payload.bin" in e["text"] for e in lines)
    assert lines[-1]["type"] == "done" and lines[-1]["image"] == ref and lines[-1]["id"].startswith("sha256:")

    for _ in engine.client.api.push(ref.rsplit(":", 1)[0], tag="1", stream=True, decode=True):
        pass
    engine.client.images.remove(ref)

    pulled = drdoctor(["container", "pull", ref, "--json"], engine)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    events = [json.loads(x) for x in pulled.stdout.splitlines()]
    layers = [e for e in events if e["type"] == "layer"]
    assert layers and all(e["op"] == "pull" and e["image"] == ref for e in layers)
    downloading = [e for e in layers if e["status"] == "Downloading"]
    big = max(downloading, key=lambda e: e["total"] or 0)  # the 600 kB payload layer
    assert big["total"] >= 500_000 and 0 < big["percent"] <= 100 and big["current"] <= big["total"]
    finals = {e["layer"]: e["status"] for e in layers}
    assert "Pull complete" in finals.values()
    assert events[-1]["type"] == "done"
    assert engine.client.images.get(ref)

    # terminal form: one line per layer state, sizes and percentages
    engine.client.images.remove(ref)
    text = drdoctor(["container", "pull", ref], engine)
    assert text.returncode == 0 and f"pull {ref}" in text.stdout and "Pull complete" in text.stdout
    assert "%" in text.stdout and f"done: {ref}" in text.stdout


def test_pull_failure_names_the_image_and_the_reason(engine, registry, drdoctor):
    ref = f"{registry}/no-such-image:9"
    done = drdoctor(["container", "pull", ref, "--json"], engine)
    assert done.returncode == 1
    error = json.loads(done.stdout.splitlines()[-1])
    assert error["type"] == "error" and ref in error["message"] and "not found" in error["message"]


def test_build_failure_names_the_image(engine, tmp_path, busybox_image, drdoctor):
    (tmp_path / "Dockerfile").write_text(f"FROM {busybox_image}\nRUN exit 7\n")
    done = drdoctor(["container", "build", "--context", str(tmp_path), "--file", "Dockerfile", "--tag", "drd-bad:1"],
                    engine)
    assert done.returncode == 1
    assert "build of drd-bad:1 failed" in done.stderr and "non-zero code: 7" in done.stderr


def test_build_of_the_real_dockerfile_sends_the_small_context_and_the_flavour(engine, busybox_image, drdoctor):
    """The real containers/Dockerfile with its default context, on the busybox base (no CUDA image can be
    pulled here): the flavour's build args are taken, and the first RUN fails with the image's name."""
    done = drdoctor(["container", "build", "--flavour", "cu128", "--tag", "drd-real:test",
                     "--build-arg", f"BASE_IMAGE={busybox_image}", "--json"], engine)
    assert done.returncode == 1
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    logs = "\n".join(e["text"] for e in lines if e["type"] == "log")
    base_id = engine.client.images.get(busybox_image).id.split(":")[1][:12]
    assert f"FROM ${{BASE_IMAGE}}\n ---> {base_id}" in logs and "ARG FLAVOUR" in logs
    assert "not consumed" not in logs  # every flavour build arg is declared
    assert lines[-1]["type"] == "error" and "build of drd-real:test failed" in lines[-1]["message"]
    assert "/bin/bash" in lines[-1]["message"]  # the reason: this base has no bash (the RUN's SHELL)


# ---- run generate ----------------------------------------------------------------------------------

@pytest.fixture
def run_dirs(tmp_path):
    models, out = tmp_path / "models", tmp_path / "out"
    models.mkdir()
    (models / "cfm_model.pt").write_bytes(b"weights")
    lyrics = tmp_path / "song.lrc"
    lyrics.write_text("[00:01.00]hello container\n")
    return models, out, lyrics


def _run_args(image, models, out, lyrics, *extra):
    return ["container", "run", "generate", "--image", image, "--models", str(models), "--output", str(out),
            "--lyrics", str(lyrics), "--style", "calm piano", "--steps", "3", *extra]


@pytest.mark.parametrize("code", [0, 4, 2])
def test_run_streams_the_runners_events_and_carries_its_exit_code(engine, fake_image, fake_context, run_dirs, code,
                                                                  drdoctor):
    models, out, lyrics = run_dirs
    done = drdoctor(_run_args(fake_image, models, out, lyrics, "--cpu", "--json", "--fault", f"exit:{code}"), engine)
    assert done.returncode == code, done.stderr
    events = _events(done.stdout)
    assert [p for e in events for p in problems(e)] == []
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    assert events[-1]["exit_code"] == code and events[-1]["ok"] is (code == 0)
    assert "fake runner: a log line on stderr" in done.stderr  # stderr goes to our stderr, not stdout
    if code == 0:  # --json prints the runner's lines byte for byte
        sent = (fake_context / "events" / "start.ndjson").read_text() + (fake_context / "events" / "ok.ndjson").read_text()
        assert done.stdout == sent

    run = out / "runs" / "fake-run"
    args = (run / "args.txt").read_text().splitlines()
    assert args[args.index("--lyrics") + 1] == "/in/lyrics/song.lrc"
    assert args[args.index("--models") + 1] == "/models"
    assert args[args.index("--out") + 1] == "/out/song.wav"
    assert args[args.index("--run-dir") + 1] == "/out/runs"
    assert args[args.index("--diffrhythm") + 1] == "/opt/DiffRhythm"
    assert args[args.index("--steps") + 1] == "3"
    assert (run / "lyrics.txt").read_text() == lyrics.read_text()  # read-only mount readable
    assert (run / "models.txt").read_text().strip() == "ro"  # the model folder is read-only
    assert not (models / "probe").exists()
    assert _leftovers(engine) == []  # removed afterwards


def test_run_in_the_terminal_renderer(engine, fake_image, run_dirs, drdoctor):
    models, out, lyrics = run_dirs
    done = drdoctor(_run_args(fake_image, models, out, lyrics, "--cpu"), engine)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() and not done.stdout.lstrip().startswith("{")  # rendered, not raw JSON


def test_gpu_request_refused_says_so_and_offers_cpu(engine, fake_image, run_dirs, drdoctor):
    models, out, lyrics = run_dirs
    done = drdoctor(_run_args(fake_image, models, out, lyrics), engine)
    assert done.returncode == 3
    assert GPU_REFUSAL in done.stderr
    assert "No NVIDIA container runtime" in done.stderr and "NVIDIA Container Toolkit" in done.stderr
    assert "--cpu" in done.stderr
    assert not (out / "runs").exists()  # nothing ran on the CPU behind the user's back
    assert _leftovers(engine) == []

    as_json = drdoctor(_run_args(fake_image, models, out, lyrics, "--json"), engine)
    events = _events(as_json.stdout)
    assert as_json.returncode == 3 and [e["type"] for e in events] == ["error", "run_finished"]
    assert GPU_REFUSAL in events[0]["message"] and events[-1]["exit_code"] == 3


def test_with_the_nvidia_toolkit_the_gpu_request_is_accepted(gpu_engine, gpu_fake_image, run_dirs, drdoctor):
    """Against an engine that has the NVIDIA hook (a stand-in, see conftest) the same request goes through
    as `--gpus all`: the container gets NVIDIA_VISIBLE_DEVICES=all and the run completes."""
    status = drdoctor(["container", "status", "--image", gpu_fake_image, "--json"], gpu_engine)
    assert json.loads(status.stdout)["gpu"] == "nvidia-runtime"
    models, out, lyrics = run_dirs
    done = drdoctor(_run_args(gpu_fake_image, models, out, lyrics, "--json"), gpu_engine)
    assert done.returncode == 0, done.stderr
    assert (out / "runs" / "fake-run" / "nvidia_visible_devices.txt").read_text().strip() == "all"
    cpu = drdoctor(_run_args(gpu_fake_image, models, out, lyrics, "--json", "--cpu"), gpu_engine)
    assert cpu.returncode == 0
    assert (out / "runs" / "fake-run" / "nvidia_visible_devices.txt").read_text().strip() == "unset"
    assert _leftovers(gpu_engine) == []


def _start_run(engine, image, models, out, lyrics, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=engine.host, DRDOCTOR_CONFIG="/nonexistent")
    return subprocess.Popen([sys.executable, "-m", "doctor", *_run_args(image, models, out, lyrics, "--cpu", "--json",
                                                                         *extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_running(proc, engine) -> dict:
    first = decode(proc.stdout.readline())
    assert first and first["type"] == "run_started"
    deadline = time.monotonic() + 10
    while not _leftovers(engine) and time.monotonic() < deadline:
        time.sleep(0.05)
    return first


def test_ctrl_c_stops_the_container_gracefully_and_keeps_the_run_folder(engine, fake_image, run_dirs):
    models, out, lyrics = run_dirs
    proc = _start_run(engine, fake_image, models, out, lyrics, "--fault", "sleep:30")
    try:
        _wait_running(proc, engine)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert time.monotonic() - started < 10  # the runner stopped on SIGINT, no kill timeout
    events = _events(stdout)
    assert events[-1]["type"] == "run_finished" and events[-1]["exit_code"] == 130
    assert any(e["type"] == "error" and e["code"] == 130 for e in events)
    assert "run folder kept" in stderr and (out / "runs" / "fake-run" / "args.txt").exists()
    assert _leftovers(engine) == []


def test_a_runner_that_ignores_sigint_is_killed_after_the_stop_timeout(engine, fake_image, run_dirs):
    models, out, lyrics = run_dirs
    proc = _start_run(engine, fake_image, models, out, lyrics, "--fault", "sleep:30", "--fault", "ignore-int",
                      "--stop-timeout", "1")
    try:
        _wait_running(proc, engine)
        proc.send_signal(signal.SIGTERM)  # SIGTERM to drdoctor is handled like Ctrl-C
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "killing container" in stderr
    assert _leftovers(engine) == []


def test_a_quiet_runner_outlives_the_engine_api_timeout(engine, fake_image, run_dirs, drdoctor):
    """The event stream has no read timeout: a runner silent for longer than the API timeout is not cut."""
    models, out, lyrics = run_dirs
    done = drdoctor(_run_args(fake_image, models, out, lyrics, "--cpu", "--json", "--engine-timeout", "1",
                              "--fault", "sleep:2"), engine)
    assert done.returncode == 0, done.stderr
    assert _events(done.stdout)[-1]["type"] == "run_finished"


def test_a_runner_that_dies_without_events_is_reported(engine, fake_image, run_dirs, drdoctor):
    models, out, lyrics = run_dirs
    done = drdoctor(_run_args(fake_image, models, out, lyrics, "--cpu", "--fault", "crash"), engine)
    assert done.returncode == 1
    assert "Traceback (most recent call last): boom" in done.stderr
    assert "stopped without reporting an outcome (exit 1)" in done.stderr
    assert _leftovers(engine) == []


def test_a_remote_engine_over_ssh(engine, fake_image, fake_ssh, run_dirs, drdoctor):
    """DOCKER_HOST=ssh://user@host:port: the SDK's ssh transport through an `ssh` stand-in (conftest)."""
    models, out, lyrics = run_dirs
    out.mkdir()  # on a remote engine the folders are the remote machine's; drdoctor cannot create them
    env = {"DOCKER_HOST": "ssh://me@gpu-box:2222", "PATH": f"{fake_ssh}:{os.environ['PATH']}"}
    status = drdoctor(["container", "status", "--image", fake_image, "--json"], env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    assert json.loads(status.stdout)["source"] == "DOCKER_HOST"
    done = drdoctor(_run_args(fake_image, models, out, lyrics, "--cpu", "--json", "--fault", "exit:4"), env=env)
    assert done.returncode == 4, done.stderr
    events = _events(done.stdout)
    assert events[0]["type"] == "run_started" and events[-1]["exit_code"] == 4
    assert (fake_ssh / "args.log").read_text().splitlines()[0] == "-l me -p 2222 -- gpu-box docker system dial-stdio"
    run = out / "runs" / "fake-run"
    args = (run / "args.txt").read_text().splitlines()
    assert args[args.index("--lyrics") + 1] == "/tmp/drdoctor/in/lyrics/song.lrc"  # copied in, not mounted
    assert (run / "lyrics.txt").read_text() == lyrics.read_text()
    assert _leftovers(engine) == []


def test_image_models_and_output_come_from_the_config(engine, fake_image, run_dirs, tmp_path, drdoctor):
    models, out, lyrics = run_dirs
    config = tmp_path / "config.toml"
    config.write_text(f'[container]\nimage = "{fake_image}"\nmodels = "{models}"\nout = "{out}"\n')
    done = drdoctor(["container", "run", "generate", "--lyrics", str(lyrics), "--style", "x", "--cpu", "--json"],
                    engine, env={"DRDOCTOR_CONFIG": str(config)})
    assert done.returncode == 0, done.stderr
    assert (out / "runs" / "fake-run" / "args.txt").exists()
    status = drdoctor(["container", "status", "--json"], engine, env={"DRDOCTOR_CONFIG": str(config)})
    assert json.loads(status.stdout)["image"]["ref"] == fake_image and status.returncode == 0


def test_missing_image_and_bad_paths(engine, run_dirs, drdoctor):
    models, out, lyrics = run_dirs
    missing = drdoctor(_run_args("drd-not-built:1", models, out, lyrics, "--cpu"), engine)
    assert missing.returncode == 3 and "drd-not-built:1 is not on this engine" in missing.stderr
    outside = drdoctor(_run_args("drd-fake:run", models, out, lyrics, "--cpu", "--out", "/etc/song.wav"), engine)
    assert outside.returncode == 2 and "outside the output folder" in outside.stderr
    no_models = drdoctor(_run_args("drd-fake:run", out / "nope", out, lyrics, "--cpu"), engine)
    assert no_models.returncode == 3 and "model folder" in no_models.stderr

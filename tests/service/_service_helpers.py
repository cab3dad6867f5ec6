"""Real processes for the service tests: `drdoctor worker` and `drdoctor serve` started as a user would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from waiting import wait_for  # noqa: F401 - the service tests import it from here too

REPO = Path(__file__).resolve().parents[2]
# each job: a 3 s song in 4 steps on the bundle (the runner's import of torch dominates its time)
SHORT_NO_STYLE = ["--length", "3", "--steps", "4"]
HEARTBEAT_S = 0.5
STALL_TIMEOUT_S = 3.0  # the documented stall timeout these tests run under


def job_when(url: str, job_id: int, done: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> dict:
    """The job (with its request and attempts) once `done(job)` holds."""
    from doctor.service import store

    def check() -> dict[str, Any] | None:
        job = store.get_job(url, job_id, with_request=True)
        return job if job is not None and done(job) else None

    return wait_for(check, timeout, what, every=0.1)


def ended(job: dict[str, Any]) -> bool:
    return job["state"] not in ("queued", "running", "cancelling")


@dataclass
class Proc:
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen = field(init=False)

    def __post_init__(self) -> None:
        self.handle = self.log.open("ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=self.handle, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=str(REPO))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 20) -> int | None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.handle.close()
        return self.proc.returncode


def launch_workers(env: dict[str, str], logs: Path, *names: str) -> list[Proc]:
    """Started, not waited for (`wait_ready`): a test goes on while they import and connect."""
    return [Proc([sys.executable, "-m", "doctor", "worker", "--cpu", "--heartbeat", str(HEARTBEAT_S),
                  "--stall-timeout", str(STALL_TIMEOUT_S), "--poll", "0.2"], env, logs / f"{name}.log")
            for name in names]


def wait_ready(*workers: Proc) -> None:
    """Each worker says "ready" once it has its database."""
    for worker in workers:
        wait_for(lambda w=worker: "ready" in w.text() or not w.alive(), 30, f"worker {worker.log.stem} to start")
        assert worker.alive(), worker.text()


def start_workers(env: dict[str, str], logs: Path, *names: str) -> list[Proc]:
    """Started together, then waited for."""
    workers = launch_workers(env, logs, *names)
    wait_ready(*workers)
    return workers


def start_worker(env: dict[str, str], logs: Path, name: str) -> Proc:
    return start_workers(env, logs, name)[0]


def start_server(env: dict[str, str], logs: Path, name: str, *extra: str) -> tuple[Proc, str]:
    return server_address(launch_server(env, logs, name, *extra))


def launch_server(env: dict[str, str], logs: Path, name: str, *extra: str) -> Proc:
    return Proc([sys.executable, "-m", "doctor", "serve", "--port", "0", *extra], env, logs / f"{name}.log")


def server_address(server: Proc) -> tuple[Proc, str]:
    found = wait_for(lambda: re.search(r"listening on (http://\S+/)", server.text()) or not server.alive(), 30,
                     "the server to listen")
    assert server.alive(), server.text()
    return server, found.group(1).rstrip("/")


def http(method: str, url: str, body: Any = None, token: str | None = None,
         timeout: float = 10) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            raw = reply.read()
            kind = reply.headers.get("content-type", "")
            return reply.status, json.loads(raw) if "json" in kind else raw
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw)
        except ValueError:
            return err.code, raw


def read_sse(url: str, timeout: float = 30) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) for every server-sent event until the stream ends."""
    events = []
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        name, data = None, []
        for raw in reply:
            line = raw.decode("utf-8").rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and data:
                events.append((name or "message", json.loads("\n".join(data))))
                name, data = None, []
    return events


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as handle:
        assert handle.getnchannels() == 2 and handle.getframerate() == 44100
        return handle.getnframes() / handle.getframerate()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except OSError:
        return False


def create_database(server_url: str, name: str) -> str:
    """A database of its own in the session's embedded server (its conninfo): workers on it serve only its jobs."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return psycopg.conninfo.make_conninfo(server_url, dbname=name)


def drop_databases(server_url: str, names: list[str]) -> None:
    """Dropped, and a checkpoint taken: a new database's pages would otherwise make the next shutdown of the shared
    server (the restart test) several seconds slower, an outage longer than the tests' stall timeout."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute("CHECKPOINT")


def runner_environment(pid: int) -> dict[str, str]:
    """The environment a running process was started with (/proc/PID/environ)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode("utf-8", "replace").split("\0") if "=" in item)

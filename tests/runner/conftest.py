"""Runner test fixtures: a real tiny bundle on disk and a helper that runs `python -m runner` for real."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from _runner_helpers import parse_stdout, runner_env


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from runner.bundle.build import build

    return build(tmp_path_factory.mktemp("bundle") / "b")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Style vectors and file hashes are cached under XDG_CACHE_HOME: keep them out of the user's home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@dataclass
class RunResult:
    code: int
    stdout: bytes
    stderr: str
    events: list[dict[str, Any]]
    out: Path

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    @property
    def error(self) -> dict[str, Any] | None:
        errors = self.of("error")
        return errors[0] if errors else None

    @property
    def folder(self) -> Path:
        return Path(self.of("run_started")[0]["folder"])


@pytest.fixture
def run_runner(tmp_path: Path, bundle_dir: Path):
    """run_runner(*args, bundle=True, out=None) -> RunResult; defaults: tiny bundle, style, seed, 3 s."""

    def run(*args: str, bundle: bool = True, out: Path | None = None, defaults: bool = True, timeout: float = 120) -> RunResult:
        out = out or tmp_path / "song.wav"
        argv = [sys.executable, "-m", "runner"]
        if defaults:
            argv += ["--out", str(out), "--run-dir", str(tmp_path / "runs"), "--seed", "11"]
            if bundle:
                argv += ["--bundle", str(bundle_dir)]
            if not {"--style", "--ref-audio", "--style-embedding", "--style-from"} & set(args):
                argv += ["--style", "test pop"]
            if "--length" not in args and "--edit" not in args:  # an edit defaults to its song's length
                argv += ["--length", "3"]
        argv += list(args)
        proc = subprocess.run(argv, capture_output=True, cwd=tmp_path, env=runner_env(tmp_path), timeout=timeout)
        return RunResult(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"),
                         parse_stdout(proc.stdout), out)

    return run

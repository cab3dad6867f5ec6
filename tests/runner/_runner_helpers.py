"""Helpers shared by the runner tests (imported by name: the test folders are not packages)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def runner_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["OMP_NUM_THREADS"] = "1"  # the bundle is tiny: threads only cost (badly, on a busy machine)
    return env


def parse_stdout(stdout: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.decode("utf-8").splitlines()]

"""`drdoctor check` as a user runs it: a subprocess, its exit code, stdout and stderr."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from doctor_machines import HOME, ROOTS, build_root, make_venv
from test_machines import CHECKOUT, complete_install

REPO = Path(__file__).resolve().parents[2]


def drdoctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": HOME, "USER": "alice", "DRDOCTOR_CONFIG": "/nonexistent/config.toml"}
    return subprocess.run([sys.executable, "-m", "doctor", "check", *args], capture_output=True, text=True,
                          timeout=60, cwd=REPO, env={**base, **(env or {})})


def test_json_on_a_failing_machine_exits_1(tmp_path):
    root = build_root(tmp_path / "m", "native_old_driver", at={"checkout": CHECKOUT})
    python = make_venv(tmp_path / "venv", "cu124_torch_2.5")
    done = drdoctor("--json", "--root", str(root), "--nvml-snapshot", str(root / "nvml.json"), "--python", python)
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["schema"] == 1 and document["drdoctor"]
    assert document["facts"]["gpu"]["cuda_driver"] == [11, 4]
    statuses = {f["id"]: f["status"] for f in document["findings"]}
    assert statuses["torch.cuda_match"] == "fail"


def test_a_healthy_machine_exits_0(tmp_path):
    if not shutil.which("espeak-ng"):
        pytest.skip("needs espeak-ng installed (apt-get install espeak-ng)")
    root = build_root(tmp_path / "m", "no_gpu", at={"checkout": CHECKOUT})
    complete_install(root)
    # This machine's real espeak-ng program and library, seen inside the fixture root.
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/espeak-ng").symlink_to(shutil.which("espeak-ng"))
    library = next(Path("/usr/lib").glob("*/libespeak-ng.so.1"), None) or Path("/usr/lib/libespeak-ng.so.1")
    (root / "usr/lib").mkdir(parents=True, exist_ok=True)
    (root / "usr/lib/libespeak-ng.so.1").symlink_to(library)
    python = make_venv(tmp_path / "venv", "cu124_torch_2.5")
    done = drdoctor("--root", str(root), "--python", python, env={"HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stdout
    assert "FAIL" not in done.stdout and "torch.build" in done.stdout


def test_redact_removes_the_home_folder_and_user_name(tmp_path):
    root = build_root(tmp_path / "m", "wsl2", at={"checkout": f"{HOME}/DiffRhythm"})
    done = drdoctor("--json", "--redact", "--root", str(root), "--nvml-snapshot", str(root / "nvml.json"))
    assert done.returncode == 1
    assert "alice" not in done.stdout and HOME not in done.stdout
    assert "~/DiffRhythm" in done.stdout


def test_a_missing_python_is_a_usage_error(tmp_path):
    done = drdoctor("--python", str(tmp_path / "no-such-python"))
    assert done.returncode == 2
    assert "no-such-python" in done.stderr and "interpreter" in done.stderr
    assert done.stdout == ""


def test_an_unknown_option_is_a_usage_error():
    done = drdoctor("--colour")
    assert done.returncode == 2 and "unrecognized arguments: --colour" in done.stderr


def test_text_output_groups_findings_by_area(tmp_path):
    done = drdoctor("--root", str(ROOTS / "no_gpu"), "--nvml-snapshot", str(ROOTS / "no_gpu" / "nvml.json"))
    lines = done.stdout.splitlines()
    assert lines[0] == "Platform" and "GPU" in lines and "Docker" in lines
    assert "\033[" not in done.stdout  # not a terminal: no colour

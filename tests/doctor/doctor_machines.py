"""Fixture machines for the checkup tests: filesystem roots assembled from tests/roots, real target venvs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from doctor.checkup import CheckupOptions, Report, run_checkup
from doctor.findings import Finding
from doctor.probes.nvml import recorded

ROOTS = Path(__file__).resolve().parent.parent / "roots"
HOME = "/home/alice"
BASE_ENV = {"HOME": HOME, "PATH": "/usr/local/bin:/usr/bin:/bin", "USER": "alice"}


def build_root(destination: Path, *layers: str, at: dict[str, str] | None = None) -> Path:
    """A machine root: fixture trees copied over each other; `at` places a tree at a path inside."""
    destination.mkdir(parents=True, exist_ok=True)
    for layer in layers:
        shutil.copytree(ROOTS / layer, destination, symlinks=True, dirs_exist_ok=True)
    for tree, inside in (at or {}).items():
        shutil.copytree(ROOTS / tree, destination / inside.lstrip("/"), symlinks=True, dirs_exist_ok=True)
    return destination


def make_venv(folder: Path, site_fixture: str | None, *more_sites: str) -> str:
    """A real venv (no pip) whose site-packages holds the installed-package metadata of a fixture (and of
    `more_sites` laid over it: `make_venv(dir, "cu126_torch_2.13", "muq_and_torchaudio_2.11")`)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=60)
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.strip()
    for site in (site_fixture, *more_sites):
        if site:
            shutil.copytree(ROOTS / "sites" / site, purelib, dirs_exist_ok=True)
    return str(python)


def checkup(root: Path, python: str | None = None, env: dict[str, str] | None = None, **options) -> Report:
    nvml_file = root / "nvml.json"
    return run_checkup(CheckupOptions(
        root=root,
        python=python,
        env={**BASE_ENV, **(env or {})},
        config=options.pop("config", {}),
        nvml=recorded(nvml_file) if nvml_file.exists() else None,
        **options,
    ))


def finding(report: Report, check_id: str) -> Finding:
    return next(f for f in report.findings if f.id == check_id)


def status(report: Report, check_id: str) -> str:
    return finding(report, check_id).status.value


def sparse(path: Path, size: int) -> None:
    """A file of `size` bytes that takes no disk space (its size is all the size checks read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.truncate(size)

"""Fixtures for the fix tests: real wheels built here, a real venv, a fixture filesystem root.

The wheels are tiny but real (zip files with METADATA, WHEEL and RECORD, installable by pip): fake
`torch` builds tagged `+cpu`/`+cu126`/`+cu118` carrying a `torch/version.py` like the real ones, fake
`transformers` releases, fake `torchaudio` builds. pip installs them from a `--find-links` folder with
`--no-index`, the same way the fixes' install commands run when `--find-links` overrides the index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fixtools import WHEELS, build_wheel


def _private_dir(prefix: str) -> Path:
    # Not under pytest's shared basetemp: several pytest sessions run at once in this project, and a
    # new session prunes older numbered folders, which once pulled a venv away mid-test.
    return Path(tempfile.mkdtemp(prefix=f"drdoctor-fixes-{prefix}-"))


@pytest.fixture(scope="session", autouse=True)
def isolated_pip():
    """pip sees only the wheels a test names: no PIP_FIND_LINKS (this machine sets one holding a real
    torch wheel of the same version as a fake), no config files."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
            patch.delenv(name, raising=False)
        patch.setenv("PIP_CONFIG_FILE", os.devnull)
        patch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        yield


@pytest.fixture
def tmp_path():
    folder = _private_dir("t")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)

@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    folder = _private_dir("wheels")
    for name, version, files in WHEELS:
        build_wheel(folder, name, version, files)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def pip_install(python: Path, wheelhouse: Path, *requirements: str) -> None:
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-index", "--find-links", str(wheelhouse), *requirements],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


class Venv:
    def __init__(self, folder: Path, wheelhouse: Path):
        self.folder = folder
        self.python = folder / "bin" / "python"
        self.wheelhouse = wheelhouse

    def install(self, *requirements: str) -> None:
        pip_install(self.python, self.wheelhouse, *requirements)

    def uninstall(self, *names: str) -> None:
        subprocess.run([str(self.python), "-m", "pip", "uninstall", "-y", "--quiet", *names],
                       check=True, capture_output=True, text=True, timeout=120)

    def packages(self) -> dict[str, str]:
        from doctor.probes import python_env

        return dict(python_env.probe(str(self.python)).packages)


@pytest.fixture(scope="session")
def venv_template() -> Path:
    """One real venv with pip, made once (ensurepip costs seconds); modules get copies of it."""
    base = _private_dir("venv-template")
    folder = base / "env"
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=120)
    yield folder
    shutil.rmtree(base, ignore_errors=True)


def copy_venv(template: Path, folder: Path) -> Path:
    """A copy of a venv that works with `bin/python -m pip` (its python links to the base interpreter;
    only the console scripts' shebangs would point at the template, and nothing here uses them)."""
    shutil.copytree(template, folder, symlinks=True)
    return folder


@pytest.fixture(scope="module")
def venv(wheelhouse, venv_template) -> Venv:
    """A real venv with pip, one per test module; tests set the packages they need."""
    base = _private_dir("venv")
    yield Venv(copy_venv(venv_template, base / "env"), wheelhouse)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def offline_env(monkeypatch, wheelhouse):
    """pip sources for the fixes: the local wheel folder, no index."""
    monkeypatch.setenv("DRDOCTOR_PIP_FIND_LINKS", str(wheelhouse))
    monkeypatch.delenv("DRDOCTOR_PIP_INDEX_URL", raising=False)
    return wheelhouse

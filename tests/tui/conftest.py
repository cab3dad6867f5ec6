"""Fixtures for the app's tests: a tiny bundle built once, lyrics, and an app pointed at temp folders."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from doctor.tui.options import TuiOptions
from tuitools import FIXTURE_ENV, checkup_options_for

LRC = "[ti:test song]\n[00:01.00]hello world\n[00:03.50]second line\n[00:99.00]too many seconds\n"


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests in a fresh event loop (no asyncio plugin needed for App.run_test)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
        return True
    return None


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path, monkeypatch):
    """Keep the developer's config and clipboard-less terminal out of the tests."""
    monkeypatch.setenv("DRDOCTOR_CONFIG", str(tmp_path / "no-config.toml"))


@pytest.fixture(scope="session")
def bundle(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bundle")
    subprocess.run([sys.executable, "-m", "runner.bundle", "build", str(folder)], check=True,
                   capture_output=True, timeout=300)
    return folder


@pytest.fixture
def lrc(tmp_path) -> Path:
    path = tmp_path / "song.lrc"
    path.write_text(LRC, encoding="utf-8")
    return path


@pytest.fixture
def gen_options(tmp_path, bundle) -> TuiOptions:
    return TuiOptions(autostart_checkup=False, bundle=str(bundle), run_dir=tmp_path / "runs",
                      out=str(tmp_path / "song.wav"), python=sys.executable)


ROOTS = Path(__file__).resolve().parent.parent / "roots"


@pytest.fixture
def wsl_root(tmp_path) -> Path:
    """A copy of the WSL2 fixture machine (its .wslconfig caps memory at 6 GB): fixes may edit it."""
    import shutil

    root = tmp_path / "root"
    shutil.copytree(ROOTS / "wsl2", root)
    return root


@pytest.fixture
def checkup_options(tmp_path, wsl_root, monkeypatch) -> TuiOptions:
    """The app pointed at the WSL2 fixture copy; the root is given relative to the (temporary) working
    folder so every path the screens show is the same from run to run (snapshots)."""
    from doctor.fixes.gather import FixOptions

    monkeypatch.chdir(wsl_root.parent)
    return TuiOptions(
        checkup=checkup_options_for(Path(wsl_root.name)),
        fix=FixOptions(ram=32 << 30, config_path=tmp_path / "config.toml", env=dict(FIXTURE_ENV)),
        run_dir=tmp_path / "runs",
    )

"""tests/install's real stand-ins (the local upstream git repository, the Hub on 127.0.0.1, the small wheels, the
test family) for the app's install tests: its conftest loaded under its own name, its fixtures re-exported, so
nothing is copied. `use_env` points this process (the app and the `drdoctor install` it starts) at a test's
folders, as the CLI tests pass `clean_env` to their subprocesses."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

_CONFTEST = Path(__file__).resolve().parent.parent / "install" / "conftest.py"
_spec = importlib.util.spec_from_file_location("install_conftest", _CONFTEST)
install = sys.modules.setdefault("install_conftest", importlib.util.module_from_spec(_spec))
if not hasattr(install, "light"):
    _spec.loader.exec_module(install)

hub, upstream, wheelhouse, light = install.hub, install.upstream, install.wheelhouse, install.light


def use_env(monkeypatch, env: dict[str, str]) -> None:
    """Make os.environ what `clean_env` gave (its PIP_/UV_/HF_/DRDOCTOR_ variables, nothing else of theirs)."""
    for name in list(os.environ):
        if name.startswith(("PIP_", "UV_", "HF_", "DRDOCTOR_")) and name not in env:
            monkeypatch.delenv(name)
    for name, value in env.items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)

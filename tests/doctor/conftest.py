"""Checkup tests never see this machine's drdoctor config or caches."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_developer_config(tmp_path_factory, monkeypatch):
    private = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("DRDOCTOR_CONFIG", str(private / "absent.toml"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(private / "cache"))

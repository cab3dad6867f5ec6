"""Shared fixtures. Each area keeps its own fixtures in its own conftest or test module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROOTS = Path(__file__).resolve().parent / "roots"


@pytest.fixture
def python_exe() -> str:
    """The interpreter running the tests: it holds torch and drdoctor."""
    return sys.executable

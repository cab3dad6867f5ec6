"""The real `drdoctor` binary in an 80x24 tmux terminal, driven by tests/tui/tmux_walkthrough.sh."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("tmux_walkthrough.sh")
DRDOCTOR = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "drdoctor"


@pytest.mark.skipif(shutil.which("tmux") is None or not DRDOCTOR.exists(), reason="needs tmux and .venv/bin/drdoctor")
def test_walkthrough_in_a_real_terminal(tmp_path):
    done = subprocess.run(["bash", str(SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    screens = {p.stem.split("-", 1)[1]: p.read_text() for p in sorted(tmp_path.glob("*.txt"))}
    assert all(len(text.splitlines()) == 24 and max(map(len, text.splitlines())) <= 80 for text in screens.values())
    assert "fix the failures first" in screens["checkup"]
    assert "mem.wsl_limit: " in screens["checkup-finding"]
    assert "+memory=24GB" in screens["fix-dialog"]
    assert "re-checked mem.wsl_limit: warn -> ok" in screens["fix-applied"]
    assert "2 timed lines, 1 skipped" in screens["generate-form"]
    assert "done: " in screens["generate-done"] and screens["generate-done"].count("100%") == 8
    assert "FAILED in preflight (exit 2)" in screens["generate-failed"] and "remedy:" in screens["generate-failed"]
    assert "2 runs in runs" in screens["runs"]
    assert "drdoctor help: runs" in screens["help"]

"""Consent on a real terminal: `drdoctor fix` asks before each step; "n" changes nothing and exits 2."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from broken_machine import build_root

REPO = Path(__file__).resolve().parents[2]


def _run_on_a_tty(argv: list[str], answers: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run `drdoctor` with a pseudo-terminal as stdin/stdout; answer each `[y/N]` question in turn."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "doctor", *argv], stdin=follower, stdout=follower,
                            stderr=follower, env=env, cwd=REPO, close_fds=True)
    os.close(follower)
    output, pending = b"", list(answers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if output.rstrip().endswith(b"[y/N]") and pending:
                os.write(leader, pending.pop(0).encode() + b"\n")
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=10)
    os.close(leader)
    return code, output.decode(errors="replace").replace("\r\n", "\n")


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["DRDOCTOR_CONFIG"] = str(tmp_path / "config.toml")
    env["PATH"] = "/usr/bin:/bin"  # no wsl.exe
    return env


def test_no_keeps_everything_and_yes_applies(tmp_path):
    root = build_root(tmp_path / "root")
    wslconfig = root / "mnt/c/Users/alice/.wslconfig"
    original = wslconfig.read_bytes()
    argv = ["fix", "wsl.memory", "--root", str(root), "--ram", "32GB"]

    code, out = _run_on_a_tty(argv, ["n"], _env(tmp_path))
    assert code == 2, out
    assert "go ahead? [y/N]" in out and "declined" in out
    assert wslconfig.read_bytes() == original and not list(wslconfig.parent.glob("*.bak"))

    code, out = _run_on_a_tty(argv, ["y"], _env(tmp_path))
    assert code == 0, out
    assert b"memory=24GB\r\n" in wslconfig.read_bytes() and len(list(wslconfig.parent.glob("*.bak"))) == 1
    assert "  verified:" in out and "check mem.wsl_limit: warn -> ok" in out

    code, out = _run_on_a_tty(argv, [], _env(tmp_path))
    assert code == 0 and "already done" in out and "[y/N]" not in out

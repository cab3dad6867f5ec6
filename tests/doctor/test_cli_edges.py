"""The command line at its edges: a target flag naming a file, stdout's reader gone (`... | head -1`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from doctor.cli import BROKEN_PIPE_EXIT

REPO = Path(__file__).resolve().parents[2]
ROOTS = REPO / "tests" / "roots"
ENV = {"PATH": "/usr/bin:/bin", "HOME": "/home/alice", "USER": "alice", "DRDOCTOR_CONFIG": "/nonexistent/config.toml"}


@pytest.fixture
def machine(tmp_path) -> list[str]:
    root = tmp_path / "machine"
    shutil.copytree(ROOTS / "wsl2", root, symlinks=True)
    return ["--root", str(root), "--nvml-snapshot", str(root / "nvml.json")]


@pytest.mark.parametrize("command", [["check"], ["fix", "--dry-run"], ["tui"]])
@pytest.mark.parametrize("flag", ["--diffrhythm", "--models"])
def test_a_target_folder_flag_naming_a_file_is_a_bad_request(tmp_path, machine, command, flag):
    a_file = tmp_path / "song.lrc"
    a_file.write_text("[00:01.00]la\n")
    done = subprocess.run([sys.executable, "-m", "doctor", *command, flag, str(a_file), "--root", "/"],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env=ENV)
    assert done.returncode == 2, done.stdout[-500:] + done.stderr
    assert f"{flag} {a_file}: is a file, not a folder; give " + (
        "the folder of the DiffRhythm checkout" if flag == "--diffrhythm" else "a folder holding model weights") in done.stderr
    assert done.stdout == ""  # no checkup ran


def _with_reader_gone(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run drdoctor with stdout a pipe whose reading end is closed at once, as `| head -0` would leave it."""
    proc = subprocess.Popen([sys.executable, "-m", "doctor", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO, env=ENV)
    proc.stdout.close()
    stderr = proc.stderr.read()
    return subprocess.CompletedProcess(args, proc.wait(timeout=120), "", stderr)


@pytest.mark.parametrize("args", [
    ["check"], ["check", "--json"], ["fix", "--dry-run", "--ram", "32GB"], ["fix", "--dry-run", "--json", "--ram", "32GB"],
])
def test_a_reader_that_goes_away_ends_a_command_quietly(machine, args):
    done = _with_reader_gone([*args, *machine])
    assert done.stderr == ""  # no BrokenPipeError traceback, no "Exception ignored" at exit
    assert done.returncode == BROKEN_PIPE_EXIT == 141


@pytest.mark.parametrize("args", [["--help"], ["fix", "--help"], ["generate", "--help"], ["container", "--help"],
                                  ["lyrics", "--help"], ["--version"]])
def test_help_to_a_reader_that_went_away_is_quiet_too(args):
    done = _with_reader_gone(args)
    assert done.stderr == ""
    assert done.returncode == BROKEN_PIPE_EXIT

"""wsl.memory against a real .wslconfig in a fixture root: byte-for-byte, backup, idempotence."""

from __future__ import annotations

import io
import stat

from fixtools import yes

from doctor.fixes import plan_for
from doctor.fixes.apply import apply_plan
from doctor.fixes.context import FixContext
from doctor.fixes.wsl_memory import GIB, NEED_GIB, find_wslconfig, sizing
from doctor.ini import IniDoc

ORIGINAL = (
    "\ufeff# WSL settings: hand-written, keep my comments\r\n"
    "[wsl2]\r\n"
    "processors = 6      # leave two for Windows\r\n"
    "localhostForwarding=true\r\n"
    "; memory=4GB tried once, too small\r\n"
    "swap=2GB\r\n"
    "\r\n"
    "# experimental features\r\n"
    "[experimental]\r\n"
    "autoMemoryReclaim=gradual\r\n"
    "sparseVhd=true"  # no newline at the end
)


def _root(tmp_path, text: str | None = ORIGINAL):
    home = tmp_path / "mnt" / "c" / "Users" / "alice"
    home.mkdir(parents=True)
    (tmp_path / "mnt" / "c" / "Users" / "Public").mkdir()
    path = home / ".wslconfig"
    if text is not None:
        path.write_bytes(text.encode("utf-8"))
    return path


def _ctx(tmp_path, **kw) -> FixContext:
    return FixContext(root=tmp_path, platform="wsl2", windows_ram=32 * GIB, which=lambda name: None, **kw)


def test_sizing_rule():
    assert NEED_GIB == 15
    assert sizing(64 * GIB) == (48, 8)
    assert sizing(32 * GIB) == (24, 8)
    assert sizing(16 * GIB) == (12, 8)  # leaves Windows 4 GiB
    assert sizing(8 * GIB) == (4, 15)   # a small host: swap makes up the difference


def test_wslconfig_is_found_under_the_one_windows_user(tmp_path):
    path = _root(tmp_path)
    assert find_wslconfig(_ctx(tmp_path)) == (path, None)
    (tmp_path / "mnt" / "c" / "Users" / "bob").mkdir()
    (tmp_path / "mnt" / "c" / "Users" / "bob" / ".wslconfig").write_text("[wsl2]\n")
    found, why = find_wslconfig(_ctx(tmp_path))
    assert found is None and "alice" in why and "bob" in why and "--wslconfig" in why


def test_apply_changes_only_memory_and_swap(tmp_path):
    path = _root(tmp_path)
    path.chmod(0o640)
    plan = plan_for("wsl.memory", _ctx(tmp_path))
    assert not plan.empty and plan.steps[0].needs_restart
    rendered = plan.render()
    assert "+memory=24GB\u240d" in rendered and "-swap=2GB\u240d" in rendered and "+swap=8GB\u240d" in rendered
    assert "wsl.exe --shutdown" in rendered  # said even when wsl.exe is not reachable
    assert path.read_bytes() == ORIGINAL.encode("utf-8")  # planning changed nothing

    out = io.StringIO()
    result = apply_plan(plan, yes, out)
    assert result.state == "applied"
    expected = ORIGINAL.replace("swap=2GB\r\n", "swap=8GB\r\nmemory=24GB\r\n")
    assert path.read_bytes() == expected.encode("utf-8")  # every other byte kept: BOM, CRLF, comments, no final newline
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    [backup] = result.backups
    assert backup.parent == path.parent and backup.name.startswith(".wslconfig.drdoctor-") and backup.name.endswith(".bak")
    assert backup.read_bytes() == ORIGINAL.encode("utf-8")
    assert str(backup) in out.getvalue()

    again = plan_for("wsl.memory", _ctx(tmp_path))
    assert again.empty and "already has" in again.done_reason
    assert apply_plan(again, yes, io.StringIO()).state == "done"
    assert path.read_bytes() == expected.encode("utf-8")


def test_higher_values_the_user_set_are_kept(tmp_path):
    path = _root(tmp_path, "[wsl2]\nmemory=40GB\nswap=16GB\n")
    plan = plan_for("wsl.memory", _ctx(tmp_path))
    assert plan.empty and path.read_text() == "[wsl2]\nmemory=40GB\nswap=16GB\n"


def test_missing_file_is_created_and_rollback_removes_it(tmp_path):
    path = _root(tmp_path, None)
    plan = plan_for("wsl.memory", _ctx(tmp_path))
    assert plan.steps[0].creates
    apply_plan(plan, yes, io.StringIO())
    assert path.read_text() == "[wsl2]\nmemory=24GB\nswap=8GB\n"


def test_wsl_shutdown_is_offered_when_wsl_exe_is_on_path(tmp_path):
    _root(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wsl_exe = bin_dir / "wsl.exe"
    marker = tmp_path / "shutdown-called"
    wsl_exe.write_text(f"#!/bin/sh\necho \"$@\" > {marker}\n")
    wsl_exe.chmod(0o755)
    ctx = FixContext(root=tmp_path, platform="wsl2", windows_ram=32 * GIB,
                     which=lambda name: str(wsl_exe) if name == "wsl.exe" else None)
    plan = plan_for("wsl.memory", ctx)
    assert plan.followups[0].argv == (str(wsl_exe), "--shutdown")
    apply_plan(plan, yes, io.StringIO())
    assert marker.read_text().strip() == "--shutdown"


def test_not_wsl_and_unknown_ram_are_blocked(tmp_path):
    _root(tmp_path)
    assert plan_for("wsl.memory", FixContext(root=tmp_path, platform="linux")).blocked
    assert "--ram" in plan_for("wsl.memory", FixContext(root=tmp_path, platform="wsl2")).blocked


def test_unknown_ram_with_enough_memory_set_is_done(tmp_path):
    # After the fix, memory= is set and the VM size says nothing about the host: judged by the run's need.
    _root(tmp_path, "[wsl2]\nmemory=10GB\n")
    ctx = FixContext(root=tmp_path, platform="wsl2", ram_need=8_000_000_000)
    plan = plan_for("wsl.memory", ctx)
    assert plan.empty and "enough for this run" in plan.done_reason
    assert "--ram" in plan_for("wsl.memory", FixContext(root=tmp_path, platform="wsl2", ram_need=12 * GIB)).blocked


def test_ini_editor_round_trips_and_edits_in_place():
    text = "a=1\n[WSL2]\n  Memory = 4GB  # small\n[x]\ny=2"
    doc = IniDoc.parse(text)
    assert doc.text() == text and doc.get("wsl2", "memory") == "4GB"
    doc.set("wsl2", "memory", "16GB")
    assert doc.text() == "a=1\n[WSL2]\n  Memory = 16GB  # small\n[x]\ny=2"
    doc.set("boot", "systemd", "true")
    assert doc.text().endswith("[x]\ny=2\n\n[boot]\nsystemd=true\n")

"""Files a user's editor wrote: UTF-16 (Notepad), UTF-8 with a BOM, cp1252, binary. Each is read in its own
encoding by the one reader (runner/textfile.py), or refused with the file, the byte and exit 2, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from doctor.fixes import plan_for
from doctor.fixes.context import FixContext
from runner import textfile

REPO = Path(__file__).resolve().parents[2]
ROOTS = REPO / "tests" / "roots"
WSLCONFIG = "mnt/c/Users/alice/.wslconfig"


def _wsl_root(tmp_path: Path, wslconfig: bytes) -> Path:
    root = tmp_path / "machine"
    shutil.copytree(ROOTS / "wsl2", root, symlinks=True)
    (root / WSLCONFIG).write_bytes(wslconfig)
    return root


def drdoctor(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/home/alice", "USER": "alice",
           "DRDOCTOR_CONFIG": str(tmp_path / "config.toml")}
    return subprocess.run([sys.executable, "-m", "doctor", *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env=env)


def _machine_flags(root: Path) -> list[str]:
    return ["--root", str(root), "--nvml-snapshot", str(root / "nvml.json")]


def test_a_cp1252_wslconfig_is_refused_by_fix_and_reported_by_check(tmp_path):
    original = "[wsl2]\r\n# Caf\u00e9 laptop\r\nmemory=4GB\r\n".encode("cp1252")
    root = _wsl_root(tmp_path, original)

    done = drdoctor(tmp_path, "fix", "wsl.memory", "--dry-run", "--ram", "32GB", *_machine_flags(root))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"{root / WSLCONFIG}: not UTF-8 text: byte 0xe9 at offset 13 (line 2, column 6)" in done.stderr
    assert "nothing was changed" in done.stderr

    applied = drdoctor(tmp_path, "fix", "wsl.memory", "--yes", "--ram", "32GB", *_machine_flags(root))
    assert applied.returncode == 2 and "Traceback" not in applied.stderr
    assert (root / WSLCONFIG).read_bytes() == original
    assert sorted(p.name for p in (root / WSLCONFIG).parent.iterdir()) == [".wslconfig"]  # no backup, no temp file

    check = drdoctor(tmp_path, "check", *_machine_flags(root))
    assert "Traceback" not in check.stderr and check.returncode in (0, 1), check.stderr
    limit = next(line for line in check.stdout.splitlines() if "mem.wsl_limit" in line)
    assert "WARN" in limit and "cannot be read" in limit
    assert "byte 0xe9 at offset 13 (line 2, column 6)" in check.stdout


def test_a_notepad_utf16_wslconfig_is_read_and_edited_in_utf16(tmp_path):
    text = "\ufeff[wsl2]\r\nmemory=4GB  # my laptop\r\nswap=2GB\r\n"
    root = _wsl_root(tmp_path, text.encode("utf-16-le"))

    check = drdoctor(tmp_path, "check", *_machine_flags(root))
    limit = next(line for line in check.stdout.splitlines() if "mem.wsl_limit" in line)
    assert "caps WSL2 at memory=4.0 GiB" in limit  # the same reader as the fix: the comment is not the value

    done = drdoctor(tmp_path, "fix", "wsl.memory", "--yes", "--ram", "32GB", *_machine_flags(root))
    assert done.returncode == 0, done.stdout + done.stderr
    raw = (root / WSLCONFIG).read_bytes()
    assert raw.startswith(b"\xff\xfe")
    assert raw.decode("utf-16-le") == "\ufeff[wsl2]\r\nmemory=24GB  # my laptop\r\nswap=8GB\r\n"

    again = drdoctor(tmp_path, "fix", "wsl.memory", "--yes", "--ram", "32GB", *_machine_flags(root))
    assert again.returncode == 0 and "already done" in again.stdout
    assert (root / WSLCONFIG).read_bytes() == raw


def test_an_inline_comment_is_not_part_of_the_value_for_check_and_fix_alike(tmp_path):
    # The check once read `memory=24GB  # comment` as "no memory=", the fix as 24GB: without --ram the fix
    # could not tell the host's RAM and the two disagreed.
    root = _wsl_root(tmp_path, b"[wsl2]\nmemory=24GB  # plenty\n")
    check = drdoctor(tmp_path, "check", *_machine_flags(root))
    limit = next(line for line in check.stdout.splitlines() if "mem.wsl_limit" in line)
    assert "ok" in limit and "memory=24.0 GiB" in limit
    fix = drdoctor(tmp_path, "fix", "wsl.memory", "--dry-run", *_machine_flags(root))
    assert "already done" in fix.stdout and "memory=24GB" in fix.stdout


def _torch_ctx(checkout: Path) -> FixContext:
    return FixContext(python="/env/bin/python", packages={"torch": "2.6.0+cpu"}, torch_build=("2.6.0+cpu", "cpu"),
                      driver_cuda=(12, 6), compute_capability=(8, 6), diffrhythm=checkout)


def test_a_cp1252_requirements_txt_names_the_byte(tmp_path):
    checkout = tmp_path / "DiffRhythm"
    checkout.mkdir()
    (checkout / "requirements.txt").write_bytes("torch==2.6.0  # \u00bfqu\u00e9?\n".encode("cp1252"))
    try:
        plan_for("torch.reinstall", _torch_ctx(checkout))
    except textfile.Unreadable as exc:
        assert str(exc).startswith(f"{checkout / 'requirements.txt'}: not UTF-8 text: byte 0xbf at offset 16")
    else:
        raise AssertionError("a cp1252 requirements.txt was planned as if it were UTF-8")


def test_a_requirements_txt_with_a_utf8_bom_keeps_it_and_its_first_pin_is_seen(tmp_path):
    checkout = tmp_path / "DiffRhythm"
    checkout.mkdir()
    (checkout / "requirements.txt").write_bytes(b"\xef\xbb\xbftorch==2.6.0\nnumpy\n")
    plan = plan_for("torch.reinstall", _torch_ctx(checkout))
    edit = next(step for step in plan.steps if step.kind == "edit")
    assert edit.new_text == "\ufefftorch==2.13.0\nnumpy\n" and edit.encoding == "utf-8"


def test_a_binary_config_toml_stops_check_and_fix_with_its_name(tmp_path):
    config = tmp_path / "config.toml"
    config.write_bytes(b'[models]\ndir = "/data"\n\x00\x9c\xff garbage')
    root = _wsl_root(tmp_path, b"[wsl2]\nmemory=4GB\n")
    for command in (["check"], ["fix", "--dry-run", "--ram", "32GB"]):
        done = drdoctor(tmp_path, *command, *_machine_flags(root))
        assert done.returncode == 2, (command, done.stderr)
        assert "Traceback" not in done.stderr
        assert f"{config}: not a text file: byte 0x00 at offset 23 (line 3, column 1)" in done.stderr
    assert config.read_bytes() == b'[models]\ndir = "/data"\n\x00\x9c\xff garbage'
    config.write_bytes(b'[models]\ndir = "/d\x9cta"\n')  # no NUL: a legacy 8-bit encoding, named by its byte
    done = drdoctor(tmp_path, "check", *_machine_flags(root))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{config}: not UTF-8 text: byte 0x9c at offset 18 (line 2, column 10)" in done.stderr


def test_a_utf16_config_toml_is_read(tmp_path):
    config = tmp_path / "config.toml"
    config.write_bytes('\ufeff# mine\n[diffrhythm]\nroot = "/nowhere/DiffRhythm"\n'.encode("utf-16-le"))
    root = _wsl_root(tmp_path, b"[wsl2]\nmemory=24GB\n")
    done = drdoctor(tmp_path, "check", "--json", *_machine_flags(root))
    assert done.returncode in (0, 1), done.stderr
    assert "/nowhere/DiffRhythm (config [diffrhythm] root)" in done.stdout


@pytest.mark.parametrize("room_for_backup", [True, False])
def test_a_full_windows_drive_while_editing_leaves_the_file_and_says_so(tmp_path, room_for_backup):
    """A real full disk: a small tmpfs mounted over the Windows user's folder (needs root; skipped without)."""
    root = _wsl_root(tmp_path, b"")
    folder = (root / WSLCONFIG).parent
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                                           capture_output=True, timeout=30).returncode != 0:
        pytest.skip("needs root to mount a 64 KiB tmpfs")
    try:
        path = root / WSLCONFIG
        original = b"[wsl2]\nmemory=4GB\n" + b"".join(b"# note %d\n" % i for i in range(2000))
        path.write_bytes(original)
        free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
        (folder / "filler").write_bytes(b"\0" * (free - 4096 - (len(original) if room_for_backup else 0)))
        done = drdoctor(tmp_path, "fix", "wsl.memory", "--yes", "--ram", "32GB", *_machine_flags(root))
        assert done.returncode == 1, done.stdout + done.stderr
        assert "Traceback" not in done.stderr and "ROLLBACK FAILED" not in done.stdout
        failed = f"cannot write {path}" if room_for_backup else f"cannot back up {path} to .wslconfig.drdoctor-"
        assert failed in done.stdout and "No space left on device (" in done.stdout
        assert "bytes free on its disk); the file is unchanged" in done.stdout
        assert path.read_bytes() == original
        assert sorted(p.name for p in folder.iterdir()) == [".wslconfig", "filler"]  # no backup, no temporary file
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True, timeout=30)


def test_a_file_that_turns_binary_between_plan_and_apply_fails_the_step(tmp_path):
    import io

    from doctor.fixes.apply import apply_plan
    from doctor.fixes.plan import Plan, edit

    path = tmp_path / "requirements.txt"
    path.write_text("torch==2.6.0\n")
    plan = Plan("x", "x", steps=(edit(path, "torch==2.13.0\n", "pin"),))
    path.write_bytes(b"\x00\x01")
    result = apply_plan(plan, lambda question: True, io.StringIO())
    assert result.state == "failed" and "not a text file: byte 0x00 at offset 0" in result.message
    assert path.read_bytes() == b"\x00\x01" and not result.backups


@pytest.mark.parametrize("encoding,bom", [("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
                                          ("utf-8", b"")])
def test_the_reader_round_trips_each_encoding_byte_for_byte(tmp_path, encoding, bom):
    path = tmp_path / "f.txt"
    raw = bom + "[wsl2]\r\nmemory=8GB # caf\u00e9 \u2603\r\n".encode(encoding)
    path.write_bytes(raw)
    found = textfile.read(path)
    assert found.encoding == encoding and found.without_bom() == "[wsl2]\r\nmemory=8GB # caf\u00e9 \u2603\r\n"
    assert found.text.encode(found.encoding) == raw
    assert textfile.read(tmp_path / "absent") is None

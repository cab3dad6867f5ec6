"""Plans and applying them: diffs, consent, backups, atomic writes, rollback on a failing step."""

from __future__ import annotations

import io
import sys

from doctor.fixes.apply import apply_plan, backup_path
from doctor.fixes.plan import CommandStep, Plan, edit

from fixtools import no, yes


def test_file_edit_renders_a_unified_diff(tmp_path):
    target = tmp_path / "settings.ini"
    target.write_text("[a]\nx=1\ny=2\n")
    step = edit(target, "[a]\nx=1\ny=3\n", "raise y")
    diff = step.diff()
    assert f"--- a{target}" in diff and f"+++ b{target}" in diff
    assert "-y=2" in diff and "+y=3" in diff and " x=1" in diff
    assert edit(target, "[a]\nx=1\ny=2\n", "nothing") is None  # already holds it: no step


def test_command_step_renders_its_argv_as_a_list():
    step = CommandStep(("python3", "-m", "pip", "install", "transformers==4.53.3"), "pin")
    text = "\n".join(step.render())
    assert "['python3', '-m', 'pip', 'install', 'transformers==4.53.3']" in text


def test_failing_second_step_restores_the_file_of_the_first(tmp_path):
    edited = tmp_path / "conf.txt"
    edited.write_bytes(b"original\r\nbytes\r\n")
    edited.chmod(0o600)
    created = tmp_path / "new" / "made.txt"
    plan = Plan("test.fix", "edit, create, then fail", steps=(
        edit(edited, "changed\n", "edit the file"),
        edit(created, "fresh\n", "create a file"),
        CommandStep((sys.executable, "-c", "import sys; print('about to fail'); sys.exit(3)"), "a step that fails"),
        CommandStep((sys.executable, "-c", "open(r'%s', 'w').write('should never run')" % (tmp_path / "marker")), "never reached"),
    ))
    out = io.StringIO()
    result = apply_plan(plan, yes, out)
    assert result.state == "failed" and "exited with status 3" in result.message and "step 3/4" in result.message
    assert edited.read_bytes() == b"original\r\nbytes\r\n"  # restored byte for byte
    assert (edited.stat().st_mode & 0o777) == 0o600
    assert not created.exists()  # the plan created it: removed
    assert not (tmp_path / "marker").exists()
    assert result.restored == [edited] and result.removed == [created]
    assert len(result.backups) == 1 and result.backups[0].read_bytes() == b"original\r\nbytes\r\n"
    assert "about to fail" in out.getvalue()  # the command's output was streamed


def test_declined_step_changes_nothing(tmp_path):
    edited = tmp_path / "conf.txt"
    edited.write_text("one\n")
    plan = Plan("test.fix", "t", steps=(edit(edited, "two\n", "edit"),))
    result = apply_plan(plan, no, io.StringIO())
    assert result.state == "declined" and edited.read_text() == "one\n"
    assert not list(tmp_path.glob("*.bak"))


def test_a_file_changed_after_planning_is_not_overwritten(tmp_path):
    edited = tmp_path / "conf.txt"
    edited.write_text("one\n")
    plan = Plan("test.fix", "t", steps=(edit(edited, "two\n", "edit"),))
    edited.write_text("someone else's change\n")
    result = apply_plan(plan, yes, io.StringIO())
    assert result.state == "failed" and "changed since the plan was made" in result.message
    assert edited.read_text() == "someone else's change\n"


def test_backup_names_carry_a_timestamp_and_never_collide(tmp_path):
    target = tmp_path / ".wslconfig"
    target.write_text("x")
    first = backup_path(target, now=1795576500)  # 2026-11-25 03:15:00 UTC
    assert first.name == ".wslconfig.drdoctor-20261125T031500.bak"
    first.write_text("x")
    assert backup_path(target, now=1795576500).name == ".wslconfig.drdoctor-20261125T031500-1.bak"


def test_move_aside_keeps_the_file_under_its_backup_name(tmp_path):
    from doctor.fixes.plan import MoveAside

    broken = tmp_path / "weights.pt"
    broken.write_text("version https://git-lfs.github.com/spec/v1\n")
    result = apply_plan(Plan("a", "t", steps=(MoveAside(broken, "move it"),)), yes, io.StringIO())
    [aside] = result.backups
    assert not broken.exists() and aside.read_text().startswith("version https://git-lfs")
    assert aside.name.startswith("weights.pt.drdoctor-") and aside.name.endswith(".bak")


def test_empty_and_blocked_plans_do_nothing():
    assert apply_plan(Plan("a", "t", done_reason="fine"), yes, io.StringIO()).state == "done"
    assert apply_plan(Plan("a", "t", blocked="no"), yes, io.StringIO()).state == "blocked"


def test_followups_run_only_when_confirmed(tmp_path):
    marker = tmp_path / "ran"
    follow = CommandStep((sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"), "restart", needs_restart=True)
    target = tmp_path / "f"
    plan = Plan("a", "t", steps=(edit(target, "x\n", "create"),), followups=(follow,))
    answers = iter([True, False])
    result = apply_plan(plan, lambda q: next(answers), io.StringIO())
    assert result.state == "applied" and not marker.exists()
    plan2 = Plan("a", "t", steps=(edit(target, "y\n", "edit"),), followups=(follow,))
    assert apply_plan(plan2, yes, io.StringIO()).state == "applied" and marker.exists()
    assert "needs restart" in plan2.render()


def test_ctrl_c_during_a_command_rolls_back(tmp_path):
    import os
    import signal
    import threading

    edited = tmp_path / "conf.txt"
    edited.write_text("before\n")
    started = tmp_path / "started"
    slow = CommandStep((sys.executable, "-c", f"open({str(started)!r}, 'w'); import time; time.sleep(30)"), "slow")
    plan = Plan("a", "t", steps=(edit(edited, "after\n", "edit"), slow))

    def interrupt():
        import time
        while not started.exists():
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    result = apply_plan(plan, yes, io.StringIO())
    assert result.state == "interrupted" and edited.read_text() == "before\n"

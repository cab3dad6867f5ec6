"""Applying plans: consent per step, streamed output, backups, atomic writes, rollback on failure.

- Every step is confirmed through `confirm(question) -> bool` (the command layer asks on the tty, or
  answers yes for `--yes`). A declined step stops the plan and undoes its file edits.
- A command runs from its argument list (never a shell), its output streamed line by line to `out`.
- A file edit first checks that the file still holds what the plan was made from, backs it up next to
  itself (`NAME.drdoctor-YYYYmmddTHHMMSS.bak`), then writes the new text atomically (temporary file in
  the same folder, then rename), keeping the file's permission bits.
- A `MoveAside` renames a broken file to its backup name (kept, not deleted).
- A failing step stops the plan and restores every file the plan changed from its backup (files the plan
  created are removed, files it moved aside are moved back). Commands already run cannot be undone; the result says which ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from doctor.fixes.plan import CommandStep, FileEdit, MoveAside, Plan, read_for_edit
from runner.atomic import write_bytes_atomic
from runner.textfile import Unreadable

Confirm = Callable[[str], bool]


@dataclass
class ApplyResult:
    fix_id: str
    state: str = "done"        # "applied", "done" (nothing to do), "blocked", "failed", "declined", "interrupted"
    message: str = ""
    backups: list[Path] = field(default_factory=list)
    restored: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    commands_run: list[tuple[str, ...]] = field(default_factory=list)  # commands that ran and succeeded

    @property
    def ok(self) -> bool:
        return self.state in ("applied", "done")

    def to_json(self) -> dict:
        return {
            "fix": self.fix_id,
            "state": self.state,
            "message": self.message,
            "backups": [str(p) for p in self.backups],
            "restored": [str(p) for p in self.restored],
            "removed": [str(p) for p in self.removed],
            "commands_run": [list(a) for a in self.commands_run],
        }


class StepFailed(Exception):
    pass


def backup_path(path: Path, now: float | None = None) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    candidate = path.with_name(f"{path.name}.drdoctor-{stamp}.bak")
    counter = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.drdoctor-{stamp}-{counter}.bak")
        counter += 1
    return candidate


def run_command(step: CommandStep, out: TextIO) -> int:
    """Run one command, streaming its merged stdout/stderr to `out`; its exit status."""
    env = dict(os.environ)
    env.update(dict(step.env))
    env.setdefault("PYTHONUNBUFFERED", "1")
    uses_sudo = step.argv[:1] == ("sudo",)
    try:
        proc = subprocess.Popen(
            list(step.argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=None if uses_sudo else subprocess.DEVNULL,  # sudo may ask for a password on the tty
            env=env,
            text=True,
            errors="replace",
            bufsize=1,
        )
    except OSError as exc:
        out.write(f"     | cannot start {step.argv[0]!r}: {exc.strerror or exc}\n")
        return 127
    timer = None
    if step.timeout:
        timer = threading.Timer(step.timeout, proc.kill)
        timer.start()
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            out.write("     | " + line if line.endswith("\n") else "     | " + line + "\n")
            out.flush()
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()  # a terminal's Ctrl-C reaches it too; a signal sent to drdoctor alone does not
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    finally:
        if timer:
            timer.cancel()


def _free_space(path: Path) -> str:
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return ""
    return f" ({free / (1 << 20):.1f} MiB free on its disk)" if free >= 1 << 20 else f" ({free} bytes free on its disk)"


class _Applier:
    def __init__(self, plan: Plan, confirm: Confirm, out: TextIO):
        self.plan, self.confirm, self.out = plan, confirm, out
        self.result = ApplyResult(plan.fix_id)
        self.changed: list[tuple[Path, Path | None]] = []  # (file, its backup or None when created)
        self.moved: list[tuple[Path, Path]] = []  # (file, where it was moved)

    def edit(self, step: FileEdit) -> None:
        try:
            current, _ = read_for_edit(step.path)
        except Unreadable as exc:  # it was text when planned
            raise StepFailed(f"{exc}; it changed since the plan was made") from exc
        if current != step.old_text:
            raise StepFailed(f"{step.path} changed since the plan was made; run the fix again to re-plan")
        backup = None
        if step.path.exists():
            backup = backup_path(step.path)
            try:
                shutil.copy2(step.path, backup)
            except OSError as exc:
                backup.unlink(missing_ok=True)  # a partial copy is no backup
                raise StepFailed(f"cannot back up {step.path} to {backup.name}: {exc.strerror or exc}"
                                 f"{_free_space(step.path)}; the file is unchanged") from exc
            self.result.backups.append(backup)
            self.out.write(f"     backup: {backup}\n")
        try:
            write_bytes_atomic(step.path, step.new_text.encode(step.encoding), step.mode)
        except OSError as exc:
            # The write is atomic: the file still holds what it held, so there is nothing to restore, and
            # the fresh backup only takes space (on a full disk, the space that is missing).
            if backup is not None:
                backup.unlink(missing_ok=True)
                self.result.backups.remove(backup)
                self.out.write(f"     removed the backup {backup.name} again: the file is unchanged\n")
            raise StepFailed(f"cannot write {step.path}: {exc.strerror or exc}{_free_space(step.path)}; "
                             "the file is unchanged") from exc
        self.changed.append((step.path, backup))
        self.out.write(f"     wrote {step.path}\n")

    def move(self, step: MoveAside) -> None:
        if not (step.path.is_symlink() or step.path.exists()):
            raise StepFailed(f"{step.path} is gone since the plan was made; run the fix again to re-plan")
        aside = backup_path(step.path)
        os.rename(step.path, aside)
        self.moved.append((step.path, aside))
        self.result.backups.append(aside)
        self.out.write(f"     moved aside: {step.path} -> {aside}\n")

    def command(self, step: CommandStep) -> None:
        code = run_command(step, self.out)
        if code == 0:
            self.result.commands_run.append(step.argv)
        else:
            if step.hint:
                self.out.write(f"     hint: {step.hint}\n")
            raise StepFailed(f"{list(step.argv)!r} exited with status {code}")

    def rollback(self) -> None:
        for path, aside in reversed(self.moved):
            try:
                os.rename(aside, path)
                self.result.restored.append(path)
                self.out.write(f"     rolled back: moved {aside} back to {path}\n")
            except OSError as exc:
                self.out.write(f"     ROLLBACK FAILED for {path}: {exc}; it is at {aside}\n")
        for path, backup in reversed(self.changed):
            try:
                if backup is None:
                    path.unlink(missing_ok=True)
                    self.result.removed.append(path)
                    self.out.write(f"     rolled back: removed {path} (the plan created it)\n")
                else:
                    write_bytes_atomic(path, backup.read_bytes())
                    shutil.copystat(backup, path)
                    self.result.restored.append(path)
                    self.out.write(f"     rolled back: restored {path} from {backup}\n")
            except OSError as exc:
                self.out.write(f"     ROLLBACK FAILED for {path}: {exc}; the backup is {backup}\n")

    def run(self, followups: bool) -> ApplyResult:
        plan = self.plan
        if plan.blocked:
            self.result.state, self.result.message = "blocked", plan.blocked
            return self.result
        if plan.empty:
            self.result.state, self.result.message = "done", plan.done_reason or "nothing to change"
            return self.result
        self.out.write(f"== applying {plan.fix_id}: {plan.title}\n")
        total = len(plan.steps)
        for number, step in enumerate(plan.steps, 1):
            self.out.write(f"  step {number}/{total}: {step.description}\n")
            question = f"{plan.fix_id} step {number}/{total}: {step.description}"
            if isinstance(step, CommandStep):
                question += f"\n    run {list(step.argv)!r}" + (" (as root)" if step.needs_root else "")
            elif isinstance(step, MoveAside):
                question += f"\n    rename {step.path} to its backup name (kept, not deleted)"
            else:
                question += f"\n    write {step.path} (a backup is kept)"
            if not self.confirm(question + "\n    go ahead?"):
                self.rollback()
                self.result.state = "declined"
                self.result.message = f"step {number} ({step.description}) declined; nothing further was done"
                return self.result
            try:
                if isinstance(step, FileEdit):
                    self.edit(step)
                elif isinstance(step, MoveAside):
                    self.move(step)
                else:
                    self.command(step)
            except (StepFailed, OSError) as exc:
                self.out.write(f"     FAILED: {exc}\n")
                self.rollback()
                self.result.state = "failed"
                self.result.message = f"step {number}/{total} ({step.description}) failed: {exc}"
                return self.result
            except KeyboardInterrupt:
                self.out.write("     interrupted\n")
                self.rollback()
                self.result.state = "interrupted"
                self.result.message = f"step {number}/{total} ({step.description}) was interrupted"
                return self.result
        self.result.state = "applied"
        self.result.message = f"{total} step(s) applied"
        for step in plan.followups if followups else ():
            if self.confirm(f"{plan.fix_id}: {step.description}\n    run {list(step.argv)!r}\n    go ahead?"):
                self.out.write(f"  then: {step.description}\n")
                self.result.commands_run.append(step.argv)
                code = run_command(step, self.out)
                if code != 0:
                    self.out.write(f"     {list(step.argv)!r} exited with status {code} (the fix itself is applied)\n")
        return self.result


def apply_plan(plan: Plan, confirm: Confirm, out: TextIO, followups: bool = True) -> ApplyResult:
    """Apply one plan; never raises for a failing step (the result says what failed and what was undone)."""
    return _Applier(plan, confirm, out).run(followups)

"""A fix is a plan first: an ordered list of steps that can be shown before anything changes.

Three kinds of step:
- `CommandStep`: a program and its arguments as a list (never a shell string), saying whether it
  needs root (then its argv already starts with `sudo` when drdoctor is not root) or a restart.
- `FileEdit`: the whole new text of one file, shown as a unified diff against what is there now.
- `MoveAside`: a broken file renamed to its backup name, so nothing picks it up (kept, not deleted).

A plan with no steps is "already done" (`Plan.done_reason` says why) or "blocked"
(`Plan.blocked` says why nothing can be planned); either way applying it changes nothing.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass
from pathlib import Path

from runner import textfile


@dataclass(frozen=True)
class CommandStep:
    argv: tuple[str, ...]
    description: str
    needs_root: bool = False
    needs_restart: bool = False
    env: tuple[tuple[str, str], ...] = ()  # extra environment variables for this command only
    timeout: float | None = None           # seconds; None: no limit (pip downloads can be long)
    hint: str = ""                         # printed when the command fails: what to try instead

    kind = "command"

    def render(self) -> list[str]:
        lines = [f"run: {list(self.argv)!r}"]
        if self.env:
            lines.append("  with env: " + " ".join(f"{k}={v}" for k, v in self.env))
        lines.append("  (as a shell line: " + shlex.join(self.argv) + ")")
        return lines

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "description": self.description,
            "argv": list(self.argv),
            "env": dict(self.env),
            "needs_root": self.needs_root,
            "needs_restart": self.needs_restart,
        }


@dataclass(frozen=True)
class FileEdit:
    path: Path
    new_text: str
    description: str
    encoding: str = "utf-8"
    old_text: str | None = None  # what the file held when planned; None: the file does not exist
    mode: int = 0o644            # permission bits of a file the edit creates
    needs_restart: bool = False  # the change takes effect only after a restart (WSL's VM)

    kind = "edit"
    needs_root = False

    @property
    def creates(self) -> bool:
        return self.old_text is None

    def diff(self) -> str:
        old = [] if self.old_text is None else self.old_text.splitlines(keepends=True)
        new = self.new_text.splitlines(keepends=True)
        lines = difflib.unified_diff(
            old,
            new,
            fromfile="/dev/null" if self.old_text is None else f"a{self.path}" if self.path.is_absolute() else f"a/{self.path}",
            tofile=f"b{self.path}" if self.path.is_absolute() else f"b/{self.path}",
        )
        out = []
        for line in lines:
            body = line.rstrip("\r\n")
            ending = line[len(body):]
            if ending == "\r\n":
                body += "\u240d"  # visible CR marker: Windows line endings stay as they were
            out.append(body)
            if not line.endswith(("\n", "\r")):
                out.append("\\ No newline at end of file")
        return "\n".join(out)

    def render(self) -> list[str]:
        verb = "create" if self.creates else "edit"
        return [f"{verb}: {self.path}"] + ["  " + line for line in self.diff().splitlines()]

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "description": self.description,
            "path": str(self.path),
            "creates": self.creates,
            "diff": self.diff(),
            "needs_root": False,
            "needs_restart": self.needs_restart,
        }


@dataclass(frozen=True)
class MoveAside:
    """Rename a broken file (or link) to its backup name next to itself, so nothing loads it; undone by
    renaming it back."""

    path: Path
    description: str

    kind = "move"
    needs_root = False
    needs_restart = False

    def render(self) -> list[str]:
        return [f"move aside: {self.path} -> {self.path.name}.drdoctor-<timestamp>.bak (kept, not deleted)"]

    def to_json(self) -> dict:
        return {"kind": self.kind, "description": self.description, "path": str(self.path),
                "needs_root": False, "needs_restart": False}


Step = CommandStep | FileEdit | MoveAside


@dataclass(frozen=True)
class Plan:
    fix_id: str
    title: str
    steps: tuple[Step, ...] = ()
    notes: tuple[str, ...] = ()       # what the user should know: sizing rules, conflicting pins, ...
    done_reason: str | None = None    # set when nothing needs doing: why
    blocked: str | None = None        # set when the fix cannot be planned here: why
    followups: tuple[CommandStep, ...] = ()  # offered after the steps (e.g. `wsl.exe --shutdown`)

    @property
    def empty(self) -> bool:
        return not self.steps

    @property
    def needs_root(self) -> bool:
        return any(step.needs_root for step in self.steps + self.followups)

    @property
    def needs_restart(self) -> bool:
        return any(step.needs_restart for step in self.steps + self.followups)

    def render(self) -> str:
        lines = [f"== {self.fix_id}: {self.title}"]
        if self.blocked:
            lines.append(f"   cannot fix here: {self.blocked}")
        elif self.empty:
            lines.append(f"   already done: {self.done_reason or 'nothing to change'}")
        for number, step in enumerate(self.steps, 1):
            flags = [f for f, on in (("needs root", step.needs_root), ("needs restart", step.needs_restart)) if on]
            suffix = f"  [{', '.join(flags)}]" if flags else ""
            lines.append(f"  {number}. {step.description}{suffix}")
            lines += ["     " + line for line in step.render()]
        for step in self.followups:
            flags = [f for f, on in (("needs root", step.needs_root), ("needs restart", step.needs_restart)) if on]
            suffix = f"  [{', '.join(flags)}]" if flags else ""
            lines.append(f"  then (offered): {step.description}{suffix}")
            lines += ["     " + line for line in step.render()]
        for note in self.notes:
            lines.append(f"  note: {note}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "fix": self.fix_id,
            "title": self.title,
            "state": "blocked" if self.blocked else "done" if self.empty else "planned",
            "reason": self.blocked or self.done_reason,
            "steps": [step.to_json() for step in self.steps],
            "followups": [step.to_json() for step in self.followups],
            "notes": list(self.notes),
            "needs_root": self.needs_root,
            "needs_restart": self.needs_restart,
        }


def read_for_edit(path: Path) -> tuple[str | None, str]:
    """(current text or None when absent, encoding), read by `runner.textfile` (a BOM is kept as a character,
    so the text round-trips); `Unreadable` when the file is not text in an encoding drdoctor can keep."""
    found = textfile.read(path)
    return (None, "utf-8") if found is None else (found.text, found.encoding)


def edit(path: Path, new_text: str, description: str, mode: int = 0o644, needs_restart: bool = False) -> FileEdit | None:
    """A FileEdit turning `path` into `new_text`, or None when it already holds exactly that."""
    old, encoding = read_for_edit(path)
    if old == new_text:
        return None
    return FileEdit(
        path=path, new_text=new_text, description=description, encoding=encoding, old_text=old, mode=mode,
        needs_restart=needs_restart,
    )

"""Messages the workers post to the screens. Workers never touch widgets; they post these.

Progress messages coalesce (`can_replace`): when a newer progress for the same thing is already queued
the older one is dropped, so a fast producer (a runner at thousands of events a second) cannot flood
the UI loop with updates nobody would see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from doctor.findings import Finding


# --- checkup -----------------------------------------------------------------------------------
@dataclass
class FindingArrived(Message):
    finding: Finding


@dataclass
class CheckupFinished(Message):
    report: Any  # doctor.report.Report
    seconds: float = 0.0


@dataclass
class CheckupFailed(Message):
    error: str


# --- fixes -------------------------------------------------------------------------------------
@dataclass
class FixOutput(Message):
    text: str


@dataclass
class FixDone(Message):
    fix_id: str
    ok: bool
    summary: str
    check_ids: tuple[str, ...] = ()


# --- runs --------------------------------------------------------------------------------------
@dataclass
class RunLaunched(Message):
    argv: list[str]
    pid: int | None


@dataclass
class RunEvent(Message):
    """One decoded runner event (anything but stage progress)."""

    event: dict[str, Any]


@dataclass
class StageProgress(Message):
    """A `stage_progress` event; a newer one for the same stage supersedes a queued older one."""

    event: dict[str, Any]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StageProgress) and message.event.get("stage") == self.event.get("stage")


@dataclass
class RunLog(Message):
    """Lines the runner wrote on stderr (or stdout lines that are not events)."""

    lines: list[str] = field(default_factory=list)


@dataclass
class RunExited(Message):
    returncode: int  # the documented exit code (a signal death already mapped)
    stderr_tail: list[str] = field(default_factory=list)


@dataclass
class RunsChanged(Message):
    """A run ended: the history should be read again."""


# --- install -----------------------------------------------------------------------------------
@dataclass
class InstallEvent(Message):
    """One event of `drdoctor install --events`; a newer progress of the same file supersedes a queued older one."""

    event: dict[str, Any]

    def can_replace(self, message: Message) -> bool:
        return (isinstance(message, InstallEvent) and self.event.get("type") == "download_progress"
                and message.event.get("type") == "download_progress"
                and (message.event.get("repo"), message.event.get("file")) == (self.event.get("repo"), self.event.get("file")))


@dataclass
class InstallOutput(Message):
    """Lines the installer printed (its terminal view: the parts, the commands' output)."""

    lines: list[str] = field(default_factory=list)


@dataclass
class InstallExited(Message):
    returncode: int

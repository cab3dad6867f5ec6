"""The install's event stream folded (`InstallState.apply(event)`): each part's state and each file's download.

The events are `drdoctor install --events FILE`'s (doctor/install/progress.py). Pure and textual-free;
unknown event types and fields are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from doctor.findings import Status
from runner.events import ExitCode

# the checkup's findings that `drdoctor install` puts right: when one of them fails, the checkup offers it
INSTALL_FINDINGS = ("models.checkout", "models.cfm", "models.vae", "models.muq", "models.assets", "torch.build",
                    "pkg.transformers")
DONE_STATES = ("applied", "done")


def install_wanted(findings) -> list[str]:
    """The ids of the failing findings an install would put right (empty: nothing to offer)."""
    return [f.id for f in findings if f.id in INSTALL_FINDINGS and f.status is Status.FAIL]


@dataclass
class PartState:
    part: str
    title: str = ""
    state: str = "pending"  # pending | running | applied | done | blocked | declined | failed | interrupted
    message: str = ""


@dataclass
class Download:
    repo: str
    file: str
    total: int | None = None
    done: int = 0
    resumed_from: int = 0
    rate: float | None = None
    eta: float | None = None
    state: str = "running"  # running | finished | refused
    seconds: float | None = None

    @property
    def fraction(self) -> float:
        if self.state == "finished":
            return 1.0
        return max(0.0, min(1.0, self.done / self.total)) if self.total else 0.0


@dataclass
class InstallState:
    parts: dict[str, PartState] = field(default_factory=dict)
    downloads: dict[tuple[str, str], Download] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    finished: dict[str, Any] | None = None  # the install_finished event
    returncode: int | None = None           # the process's exit status
    events: int = 0

    def plan(self, parts) -> None:
        """The parts as the plan names them, in order, before any event."""
        for part in parts:
            self.parts.setdefault(part.fix_id, PartState(part.fix_id, part.title))

    def apply(self, event: dict[str, Any]) -> str | None:
        self.events += 1
        kind = event.get("type")
        if kind in ("part_started", "part_finished"):
            name = str(event.get("part"))
            part = self.parts.setdefault(name, PartState(name))
            part.title = str(event.get("title") or part.title)
            part.state = "running" if kind == "part_started" else str(event.get("state"))
            part.message = str(event.get("message") or "")
        elif kind in ("download_started", "download_progress", "download_finished"):
            key = (str(event.get("repo")), str(event.get("file")))
            d = self.downloads.setdefault(key, Download(*key))
            if kind == "download_started":
                d.total, d.done, d.resumed_from = event.get("total"), event.get("resumed_from") or 0, \
                    event.get("resumed_from") or 0
                d.state, d.rate, d.eta = "running", None, None
            elif kind == "download_progress":
                d.done, d.total, d.rate, d.eta = event.get("done") or 0, event.get("total"), event.get("rate"), \
                    event.get("eta")
            else:
                d.done, d.state, d.seconds, d.eta = event.get("bytes") or d.done, "finished", event.get("seconds"), 0
        elif kind == "download_refused":
            self.refused.append(str(event.get("message")))
        elif kind == "install_finished":
            self.finished = event
        return kind

    def exited(self, code: int) -> None:
        self.returncode = code
        for part in self.parts.values():
            if part.state == "running":
                part.state = "interrupted" if code == int(ExitCode.CANCELLED) else "failed"

    @property
    def running(self) -> bool:
        return self.returncode is None

    @property
    def exit_code(self) -> int | None:
        return self.returncode

    @property
    def first_song(self) -> str | None:
        return (self.finished or {}).get("first_song")

    def partial(self) -> list[Download]:
        """Downloads that stopped before their last byte (kept on disk; the next install continues them)."""
        return [d for d in self.downloads.values() if d.state == "running" and d.done]

"""The run fold the app shows: `doctor.run_view.RunState` (the one `drdoctor generate` uses) plus what
a screen asks of it (bar fractions, the outcome after the process exits, resumability).

Pure and textual-free; unknown event types and fields are ignored (forward compatibility).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from doctor.launch import diagnose_no_events
from doctor.run_view import RunState as _Fold
from doctor.run_view import StageState
from runner.events import ExitCode

RESUMABLE_CODES = (int(ExitCode.CANCELLED), int(ExitCode.TIMED_OUT), int(ExitCode.OUT_OF_MEMORY))

__all__ = ["RunState", "StageState", "fraction"]


def fraction(stage: StageState) -> float:
    """How full the stage's bar is: 1 once finished (or skipped), done/total while it runs."""
    if stage.status in ("done", "skipped"):
        return 1.0
    if not stage.total or not stage.done:
        return 0.0
    return max(0.0, min(1.0, stage.done / stage.total))


@dataclass
class RunState(_Fold):
    returncode: int | None = None  # the process's exit status, once it has exited
    events: int = 0

    def apply(self, event: dict[str, Any]) -> str | None:
        """Fold one event in; returns its type."""
        self.events += 1
        if self.run is None and isinstance(event.get("run"), str):
            self.run = event["run"]
        super().apply(event)
        stage = self.stages.get(str(event.get("stage")))
        if event.get("type") == "stage_progress" and stage is not None and stage.status == "pending":
            stage.status = "running"
            stage.started_t = stage.started_t or event.get("t")
        if event.get("type") == "error" and stage is not None and event.get("code") == int(ExitCode.CANCELLED):
            stage.status = "cancelled"  # stopped on request, not broken
        return event.get("type")

    def exited(self, code: int, stderr_tail: list[str] | None = None) -> None:
        """The process ended with the documented exit `code`; when it never said run_finished (a crash,
        a kill) the launcher's diagnosis from its stderr becomes the error."""
        self.returncode = code
        if self.finished is None and self.error is None:
            code, message, remedy = diagnose_no_events(code, list(stderr_tail or []))
            running = next((s.name for s in self.stages.values() if s.status == "running"), None)
            self.returncode = code
            self.error = {"type": "error", "stage": running, "code": code, "message": message, "remedy": remedy}
        if not self.ok:
            for stage in self.stages.values():
                if stage.status == "running":
                    stage.status = "cancelled" if self.cancelled else "failed"

    @property
    def done(self) -> bool:
        return self.returncode is not None or self.finished is not None

    @property
    def exit_code(self) -> int | None:  # type: ignore[override]
        if self.finished is not None:
            return int(self.finished.get("exit_code", 1))
        return self.returncode

    @property
    def ok(self) -> bool:
        return self.finished is not None and bool(self.finished.get("ok")) and self.exit_code == 0

    @property
    def output(self) -> str | None:
        return (self.finished or {}).get("output")

    @property
    def seconds(self) -> float | None:
        return (self.finished or {}).get("seconds")

    @property
    def failed_stage(self) -> str | None:
        if self.error and self.error.get("stage"):
            return str(self.error["stage"])
        return next((s.name for s in self.stages.values() if s.status in ("failed", "cancelled")), None)

    @property
    def cancelled(self) -> bool:
        return self.exit_code == int(ExitCode.CANCELLED)

    @property
    def resumable(self) -> bool:
        return self.done and not self.ok and self.exit_code in RESUMABLE_CODES and self.run is not None

    def artifact(self, kind: str) -> str | None:
        return next((str(a.get("path")) for a in reversed(self.artifacts) if a.get("kind") == kind), None)

    def check(self, name: str) -> dict[str, Any] | None:
        return next((c for c in reversed(self.checks) if c.get("name") == name), None)

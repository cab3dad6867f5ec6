"""A check's verdict: the one record every front end (report, JSON, TUI, fixes) renders."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class Status(str, Enum):
    OK = "ok"
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Finding:
    id: str            # stable dotted id, documented in the README ("torch.build")
    status: Status
    title: str         # one line: what was seen
    detail: str = ""   # why it matters and what to do
    fix: str | None = None  # id of the fix that addresses it (`drdoctor fix ID`), if any

    def to_json(self) -> dict:
        data = asdict(self)
        data["status"] = self.status.value
        return data

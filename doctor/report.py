"""A checkup's result (`Report`) and its renderings: text grouped by area (coloured on a terminal), versioned JSON.

Gathering lives in doctor/checkup.py, which imports this; nothing here probes anything.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from doctor import __version__
from doctor.facts import Facts
from doctor.findings import Finding, Status

SCHEMA = 1
AREA_TITLES = {
    "platform": "Platform", "gpu": "GPU", "torch": "PyTorch", "pkg": "Packages", "mem": "Memory",
    "disk": "Disk", "models": "DiffRhythm and models", "sys": "System tools", "hf": "Hugging Face", "docker": "Docker",
}
MARKS = {Status.OK: "ok", Status.INFO: "info", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.SKIP: "skip"}
COLOURS = {Status.OK: "32", Status.INFO: "36", Status.WARN: "33", Status.FAIL: "31;1", Status.SKIP: "2"}


@dataclass
class Report:
    facts: Facts
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return any(f.status is Status.FAIL for f in self.findings)

    def to_json(self, redact: bool = False) -> dict[str, Any]:
        return to_json(self, redact=redact)


def plain(value: Any) -> Any:
    """Facts as JSON-ready values: dataclasses to dicts, tuples to lists, enums to their values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def redactor(env: Mapping[str, str] | None = None) -> Any:
    """A function that replaces home folders and user names in a string."""
    env = os.environ if env is None else env
    home = env.get("HOME", "").rstrip("/")
    # "root" names no one; replacing it would garble paths and words alike.
    users = {u for u in (env.get("USER"), env.get("LOGNAME"), os.path.basename(home)) if u and len(u) > 1 and u != "root"}
    patterns = [(re.compile(r"(/home/|/Users/|\\Users\\)[^/\\\s'\"]+"), r"\1<user>")]
    if home and home != "/":
        patterns.insert(0, (re.compile(re.escape(home) + r"(?=/|\b|$)"), "~"))
    patterns += [(re.compile(rf"\b{re.escape(u)}\b"), "<user>") for u in sorted(users)]

    def apply(text: str) -> str:
        for pattern, replacement in patterns:
            text = pattern.sub(replacement, text)
        return text

    return apply


def _redacted(value: Any, apply: Any) -> Any:
    if isinstance(value, str):
        return apply(value)
    if isinstance(value, dict):
        return {apply(k): _redacted(v, apply) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, apply) for v in value]
    return value


def to_json(report: Report, redact: bool = False, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    document = {
        "drdoctor": __version__,
        "schema": SCHEMA,
        "seconds": round(report.seconds, 3),
        "facts": plain(report.facts),
        "findings": [f.to_json() for f in report.findings],
    }
    return _redacted(document, redactor(env)) if redact else document


def _area(finding: Finding) -> str:
    return finding.id.split(".", 1)[0]


def render_text(report: Report, colour: bool = False, redact: bool = False, env: Mapping[str, str] | None = None) -> str:
    apply = redactor(env) if redact else (lambda text: text)

    def mark(status: Status) -> str:
        text = f"{MARKS[status]:>4}"
        return f"\033[{COLOURS[status]}m{text}\033[0m" if colour else text

    lines: list[str] = []
    current = None
    for finding in report.findings:
        area = _area(finding)
        if area != current:
            lines += ["", AREA_TITLES.get(area, area)]
            current = area
        lines.append(f"  {mark(finding.status)}  {finding.id:<22} {apply(finding.title)}")
        if finding.detail and finding.status in (Status.WARN, Status.FAIL, Status.INFO):
            lines.append(f"        {'':<22} {apply(finding.detail)}")
        if finding.fix and finding.status in (Status.WARN, Status.FAIL):
            lines.append(f"        {'':<22} fix: drdoctor fix {finding.fix}")
    counts = {s: sum(f.status is s for f in report.findings) for s in Status}
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    lines += ["", f"{summary}  ({report.seconds:.2f} s)"]
    return "\n".join(lines).lstrip("\n") + "\n"

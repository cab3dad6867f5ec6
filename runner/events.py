"""The event contract between the runner and every consumer (DESIGN.md, "Runner: stages and events").

This module must stay free of torch: the doctor imports it to read a run's stream.
"""

from __future__ import annotations

import json
import time
from enum import IntEnum
from typing import Any

SCHEMA_VERSION = 1

STAGES = ("preflight", "load", "lyrics", "style", "sample", "decode", "validate", "write")


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    BAD_INPUT = 2
    ENVIRONMENT = 3
    INVALID_OUTPUT = 4
    OUT_OF_MEMORY = 5
    TIMED_OUT = 6
    CANCELLED = 130


# Fields each event type must carry besides the common `v`, `type`, `run`, `t`.
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "run_started": ("request", "device", "dtype", "versions"),
    "stage_started": ("stage", "total", "unit"),
    "stage_progress": ("stage", "done", "total"),
    "stage_finished": ("stage", "seconds"),
    "check": ("stage", "name", "ok", "value", "limit", "message"),
    "artifact": ("kind", "path", "bytes"),
    "warning": ("stage", "message"),
    "error": ("stage", "code", "message", "remedy"),
    "run_finished": ("ok", "exit_code", "output", "seconds"),
}

COMMON_FIELDS = ("v", "type", "run", "t")


def make_event(type_: str, run: str, **fields: Any) -> dict[str, Any]:
    """Build one event; raises ValueError when a required field is missing (a programming error)."""
    missing = [name for name in EVENT_FIELDS.get(type_, ()) if name not in fields]
    if missing:
        raise ValueError(f"event {type_!r} lacks {', '.join(missing)}")
    return {"v": SCHEMA_VERSION, "type": type_, "run": run, "t": time.time(), **fields}


def encode(event: dict[str, Any]) -> str:
    """One event as one line of UTF-8 JSON, without the newline."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def decode(line: str | bytes) -> dict[str, Any] | None:
    """Parse one stdout line; None for anything that is not an event object (a consumer skips it)."""
    try:
        event = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return None
    return event


def problems(event: dict[str, Any]) -> list[str]:
    """What makes `event` break the contract; unknown types and extra fields are allowed."""
    found = [f"missing {name}" for name in COMMON_FIELDS if name not in event]
    if event.get("v") != SCHEMA_VERSION:
        found.append(f"v is {event.get('v')!r}, expected {SCHEMA_VERSION}")
    for name in EVENT_FIELDS.get(event.get("type", ""), ()):
        if name not in event:
            found.append(f"{event['type']} lacks {name}")
    stage = event.get("stage")
    if stage is not None and stage not in STAGES:
        found.append(f"unknown stage {stage!r}")
    return found

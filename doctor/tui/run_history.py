"""The runs history: one record per `runs/<run id>/` folder, read from its request and events.

Textual-free so it can be tested and reused; the runs screen shows these records.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from doctor.tui.run_state import RunState
from runner.events import decode


@dataclass(frozen=True)
class RunRecord:
    run: str
    folder: Path
    status: str  # ok | failed | cancelled | running? (no end) | unknown
    length: float | None
    started: float | None  # unix time of the first event
    seconds: float | None
    output: str | None
    failed_stage: str | None
    message: str
    resumable: bool
    seed: int | None = None  # the noise seed the run used (the runner's random one when none was given)

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.started)) if self.started else "?"


def read_run(folder: Path) -> RunRecord:
    state = RunState()
    first_t = None
    try:
        with open(folder / "events.ndjson", "rb") as handle:
            for line in handle:
                event = decode(line)
                if event is None:
                    continue
                if first_t is None and isinstance(event.get("t"), (int, float)):
                    first_t = float(event["t"])
                state.apply(event)
    except OSError:
        pass
    try:
        request = json.loads((folder / "request.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        request = state.request or {}
    if state.finished is not None:
        status = "ok" if state.ok else "cancelled" if state.cancelled else "failed"
    elif state.events:
        status = "unfinished"
    else:
        status = "unknown"
    has_saved = any((folder / name).exists() for name in ("latents.pt", "audio_raw.pt")) or bool(
        {"latents", "audio_raw"} & {a.get("kind") for a in state.artifacts})
    resumable = status in ("cancelled", "failed", "unfinished") and (state.resumable or has_saved or status == "unfinished")
    message = ""
    if state.error:
        message = str(state.error.get("message") or "")
    length = request.get("length") if isinstance(request, dict) else None
    seed = request.get("seed") if isinstance(request, dict) else None
    return RunRecord(
        run=state.run or folder.name, folder=folder, status=status,
        length=float(length) if isinstance(length, (int, float)) else None,
        started=first_t, seconds=state.seconds, output=state.output, failed_stage=state.failed_stage,
        message=message, resumable=resumable, seed=seed if isinstance(seed, int) else None,
    )


def list_runs(run_dir: Path) -> list[RunRecord]:
    """Every run folder under `run_dir`, newest first."""
    try:
        folders = [p for p in Path(run_dir).iterdir() if p.is_dir() and ((p / "request.json").exists() or (p / "events.ndjson").exists())]
    except OSError:
        return []
    records = [read_run(folder) for folder in folders]
    return sorted(records, key=lambda r: (r.started or 0, r.run), reverse=True)

"""Folding and showing a run's event stream, one event at a time (`RunView.feed(event)`).

`RunState.apply(event)` is the pure fold (stages, progress, checks, warnings, error, outcome) that any
consumer can reuse (the TUI, the container log streamer); `RunView` renders it to a text stream:
live lines on a terminal, plain lines otherwise. Unknown event types and fields are ignored.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import IO, Any

from doctor.units import duration
from runner.events import STAGES

_CLEAR = "\r\x1b[2K"


@dataclass
class StageState:
    name: str
    status: str = "pending"  # pending | running | done | skipped | failed
    done: int | None = None
    total: int | None = None
    unit: str | None = None
    started_t: float | None = None
    last_t: float | None = None
    seconds: float | None = None
    note: str = ""

    def rate(self) -> float | None:
        """Units per second since the stage started (from the events' own clocks)."""
        if not self.done or self.started_t is None or self.last_t is None or self.last_t <= self.started_t:
            return None
        return self.done / (self.last_t - self.started_t)

    def eta(self) -> float | None:
        rate = self.rate()
        if rate is None or self.total is None or self.done is None:
            return None
        return max(self.total - self.done, 0) / rate


@dataclass
class RunState:
    run: str | None = None
    request: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    dtype: str | None = None
    stages: dict[str, StageState] = field(default_factory=lambda: {s: StageState(s) for s in STAGES})
    checks: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    finished: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int | None:
        return None if self.finished is None else int(self.finished.get("exit_code", 1))

    def apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        stage = self.stages.get(str(event.get("stage"))) if event.get("stage") in self.stages else None
        t = event.get("t")
        if kind == "run_started":
            self.run = event.get("run")
            self.request = event.get("request") or {}
            self.device, self.dtype = event.get("device"), event.get("dtype")
        elif kind == "stage_started" and stage:
            stage.status, stage.total, stage.unit = "running", event.get("total"), event.get("unit")
            stage.done, stage.started_t, stage.last_t = 0, t, t
        elif kind == "stage_progress" and stage:
            stage.done, stage.total, stage.last_t = event.get("done"), event.get("total"), t
            stage.unit = event.get("unit") or stage.unit  # the load stage's encode of a song reports chunks
        elif kind == "stage_finished" and stage:
            stage.status = "skipped" if event.get("skipped") else "done"
            stage.seconds = event.get("seconds")
            stage.note = str(event.get("reason") or "")
        elif kind == "check":
            self.checks.append(event)
        elif kind == "warning":
            self.warnings.append(event)
        elif kind == "artifact":
            self.artifacts.append(event)
        elif kind == "error":
            self.error = event
            if stage:
                stage.status = "failed"
        elif kind == "run_finished":
            self.finished = event


def _fmt_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


class RunView:
    """Feed it events; it writes a human view to `out`. `live=None` picks live lines on a terminal."""

    def __init__(self, out: IO[str] | None = None, live: bool | None = None):
        self.out = out or sys.stdout
        self.live = self.out.isatty() if live is None else live
        self.state = RunState()
        self._live_line = False
        self._last_plain: dict[str, int] = {}

    # --- output helpers ---------------------------------------------------------------------------

    def _line(self, text: str) -> None:
        if self._live_line:
            self.out.write(_CLEAR)
            self._live_line = False
        self.out.write(text + "\n")
        self.out.flush()

    def _live(self, text: str) -> None:
        self.out.write(_CLEAR + text)
        self.out.flush()
        self._live_line = True

    def progress_text(self, stage: StageState) -> str:
        unit = stage.unit or "unit"
        text = f"  {stage.name:<9} {stage.done or 0}/{stage.total if stage.total is not None else '?'} {unit}s"
        rate = stage.rate()
        if rate:
            text += f"  {rate:.2f} {unit}s/s" if rate >= 0.1 else f"  {1 / rate:.1f} s/{unit}"
            eta = stage.eta()
            if eta is not None and stage.done != stage.total:
                text += f"  ETA {duration(eta)}"
        return text

    def checks_table(self, stage: str = "validate") -> list[str]:
        rows = [c for c in self.state.checks if c.get("stage") == stage]
        if not rows:
            return []
        width = max(len(str(c.get("name"))) for c in rows)
        lines = []
        for c in rows:
            mark = "ok  " if c.get("ok") else ("WARN" if c.get("severity") == "warn" else "FAIL")
            lines.append(f"    {mark} {str(c.get('name')):<{width}}  {_fmt_value(c.get('value')):>10}  "
                         f"(limit {_fmt_value(c.get('limit'))})  {c.get('message', '')}")
        return lines

    # --- the event entry point --------------------------------------------------------------------

    def feed(self, event: dict[str, Any]) -> None:
        self.state.apply(event)
        kind = event.get("type")
        name = event.get("stage")
        stage = self.state.stages.get(name) if isinstance(name, str) else None
        if kind == "run_started":
            req = self.state.request
            what = req.get("style") or req.get("ref_audio") or req.get("style_embedding") or req.get("style_from") or ""
            self._line(f"run {self.state.run} on {self.state.device} ({self.state.dtype}): "
                       f"{'lyrics ' + str(req.get('lyrics')) if req.get('lyrics') else 'instrumental'}, style {what!r}")
        elif kind == "stage_started" and stage:
            if self.live:
                self._live(self.progress_text(stage) if stage.total else f"  {stage.name:<9} ...")
        elif kind == "stage_progress" and stage:
            if self.live:
                self._live(self.progress_text(stage))
            else:
                self._plain_progress(stage)
        elif kind == "stage_finished" and stage:
            if stage.status == "skipped":
                self._line(f"  {stage.name:<9} skipped: {stage.note}")
            else:
                extra = f" {stage.done}/{stage.total} {stage.unit}s" if stage.total else ""
                self._line(f"  {stage.name:<9} done{extra} in {duration(stage.seconds)}")
            if stage.name == "validate":
                for line in self.checks_table():
                    self._line(line)
        elif kind == "warning":
            self._line(f"  warning [{name}]: {event.get('message')}")
        elif kind == "error":
            if name == "validate":
                for line in self.checks_table():
                    self._line(line)
            self._line(f"error in {name} (exit {event.get('code')}): {event.get('message')}")
            if event.get("remedy"):
                self._line(f"  what to do: {event.get('remedy')}")
        elif kind == "run_finished":
            if event.get("ok"):
                self._line(f"wrote {event.get('output')} in {duration(event.get('seconds'))}")
            else:
                self._line(f"failed with exit {event.get('exit_code')} after {duration(event.get('seconds'))}"
                           + (f"; run folder: {self.run_folder()}" if self.run_folder() else ""))

    def _plain_progress(self, stage: StageState) -> None:
        """Not a terminal: a progress line per chunk, or about every 10 % of the steps."""
        total = stage.total or 0
        done = stage.done or 0
        every = max(1, total // 10) if stage.unit == "step" else 1
        if done == total or done - self._last_plain.get(stage.name, 0) >= every:
            self._last_plain[stage.name] = done
            self._line(self.progress_text(stage))

    def run_folder(self) -> str | None:
        for art in self.state.artifacts:
            if art.get("kind") == "manifest":
                return str(art.get("path", "")).rsplit("/", 1)[0]
        return None

    def close(self) -> None:
        if self._live_line:
            self.out.write("\n")
            self.out.flush()
            self._live_line = False

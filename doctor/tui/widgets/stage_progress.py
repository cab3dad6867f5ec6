"""One progress bar per runner stage, with the rate and time left from the events' own clocks."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar

from doctor.tui.run_state import RunState, StageState, fraction
from runner.events import STAGES

STATUS_STYLE = {"done": "green", "failed": "bold red", "running": "bold", "skipped": "dim", "pending": "dim"}


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def describe(stage: StageState) -> str:
    if stage.status == "done":
        return f"done {stage.seconds:.1f} s" if stage.seconds is not None else "done"
    if stage.status == "skipped":
        return f"skipped: {stage.note}" if stage.note else "skipped"
    if stage.status == "failed":
        return "FAILED"
    if stage.status == "cancelled":
        return f"cancelled at {stage.done or 0}/{stage.total}" if stage.total else "cancelled"
    if stage.status == "pending":
        return ""
    parts = []  # the time left first: on a narrow terminal the end of the line is cut
    eta = stage.eta()
    if eta is not None:
        parts.append(f"{_clock(eta)} left")
    if stage.total:
        parts.append(f"{stage.done or 0}/{stage.total}")
    rate = stage.rate()
    if rate:
        parts.append(f"{rate:.1f} {stage.unit or 'unit'}/s")
    return " · ".join(parts) or "running"


class StageRow(Horizontal):
    DEFAULT_CSS = """
    StageRow { height: 1; }
    StageRow .stage-name { width: 10; }
    StageRow ProgressBar { width: 32; }
    StageRow ProgressBar Bar { width: 24; }
    StageRow .stage-info { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    StageRow.-running .stage-name { text-style: bold; }
    StageRow.-failed .stage-name, StageRow.-failed .stage-info { color: $error; text-style: bold; }
    StageRow.-pending .stage-name, StageRow.-skipped .stage-name { color: $text-muted; }
    StageRow.-cancelled .stage-name, StageRow.-cancelled .stage-info { color: $warning; text-style: bold; }
    """

    def __init__(self, stage: str) -> None:
        super().__init__(id=f"stage-{stage}", classes="-pending")
        self.stage = stage

    def compose(self) -> ComposeResult:
        yield Label(self.stage, classes="stage-name")
        yield ProgressBar(total=100, show_eta=False, id=f"bar-{self.stage}")
        yield Label("", classes="stage-info")

    def on_mount(self) -> None:
        self._bar = self.query_one(ProgressBar)
        self._info = self.query_one(".stage-info", Label)
        self._status = "pending"
        self._text = ""

    def show(self, stage: StageState) -> None:
        self._bar.update(total=100, progress=round(fraction(stage) * 100, 1))
        text = describe(stage)
        if text != self._text:
            self._text = text
            self._info.update(text)
        if stage.status != self._status:
            self.remove_class(f"-{self._status}")
            self.add_class(f"-{stage.status}")
            self._status = stage.status


class StageBars(Vertical):
    DEFAULT_CSS = """
    StageBars { height: auto; }
    """

    def compose(self) -> ComposeResult:
        for stage in STAGES:
            yield StageRow(stage)

    def on_mount(self) -> None:
        self._rows = {row.stage: row for row in self.query(StageRow).results(StageRow)}

    def show(self, state: RunState, stage: str | None = None) -> None:
        """Redraw one stage's row (or all of them)."""
        for name in [stage] if stage else STAGES:
            if name in state.stages and name in self._rows:
                self._rows[name].show(state.stages[name])

    def percent(self, stage: str) -> float:
        fraction = self.query_one(f"#bar-{stage}", ProgressBar).percentage
        return 0.0 if fraction is None else fraction * 100

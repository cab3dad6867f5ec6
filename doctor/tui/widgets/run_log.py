"""A process's output (the runner's stderr, the installer's lines) in a collapsible pane that follows the tail."""

from __future__ import annotations

from textual.widgets import Collapsible, Log


class RunLog(Collapsible):
    DEFAULT_CSS = """
    RunLog Log { height: 8; }
    """

    def __init__(self, name: str = "stderr log", **kwargs) -> None:
        super().__init__(Log(max_lines=5000, auto_scroll=True), title=name, collapsed=True, **kwargs)
        self.what = name
        self.lines = 0

    def write_lines(self, lines: list[str]) -> None:
        log = self.query_one(Log)
        log.write_lines(lines)
        self.lines += len(lines)
        self.title = f"{self.what} ({self.lines} lines)"

    def reset(self) -> None:
        self.query_one(Log).clear()
        self.lines = 0
        self.title = self.what

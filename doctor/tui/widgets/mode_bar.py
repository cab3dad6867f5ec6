"""The top line: the app's name, its three modes with their keys (the current one marked), help keys."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

MODES = (("checkup", "F2", "Checkup"), ("generate", "F3", "Generate"), ("runs", "F4", "Runs"))


class ModeBar(Static):
    DEFAULT_CSS = """
    ModeBar { height: 1; background: $panel; color: $foreground; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, mode: str) -> None:
        super().__init__(id="mode-bar")
        self.mode = mode

    def on_mount(self) -> None:
        text = Text(" drdoctor ", style="bold")
        for mode, key, label in MODES:
            text.append(" ")
            if mode == self.mode:
                text.append(f" {key} {label} ", style="bold reverse")
            else:
                text.append(f" {key} {label} ")
        text.append("   F1 help · ^p commands", style="dim")
        self.update(text)

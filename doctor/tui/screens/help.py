"""F1: what each screen does and its keys (help.md), plus the bindings of the screen below."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label

HELP_MD = Path(__file__).parent.parent / "help.md"  # doctor/tui/help.md (package data)


def bindings_table(screen) -> str:
    rows = []
    seen = set()
    for node in (screen, screen.app):
        for key, binding in node._bindings:
            if not binding.show or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            rows.append(f"- `{screen.app.get_key_display(binding)}` **{binding.description}**: {binding.tooltip}")
    return "\n".join(rows)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 90%; max-width: 100; height: 90%; border: thick $primary; background: $surface; }
    HelpScreen #help-title { text-style: bold; padding: 0 1; }
    HelpScreen VerticalScroll { height: 1fr; }
    """
    BINDINGS = [Binding("escape,f1,q", "app.pop_screen", "Close", id="help.close", tooltip="Close the help.")]

    def __init__(self, below) -> None:
        super().__init__()
        self.below = below

    def compose(self) -> ComposeResult:
        from textual.widgets import Markdown  # markdown-it loads only when help is first opened

        section = getattr(self.below, "HELP", "")
        text = HELP_MD.read_text(encoding="utf-8")
        keys = bindings_table(self.below)
        with Vertical():
            yield Label(f"drdoctor help: {section or 'app'} (esc closes)", id="help-title")
            with VerticalScroll():
                yield Markdown(f"## Keys here\n\n{keys}\n\n{text}")

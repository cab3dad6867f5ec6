"""The install's consent dialog: what downloads over 1 GB and what runs as root, asked before anything runs."""

from __future__ import annotations

import os

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


def consent_needed(plan) -> list[tuple[str, str, str]]:
    """(part, why it asks, what exactly) for each part `drdoctor install` asks about before running it (its own rule)."""
    from doctor.commands.install import consent_reason

    asks = []
    for part in plan.parts:
        why = consent_reason(part, plan)
        if why is None:
            continue
        if part.needs_root:
            sudo = "" if os.geteuid() == 0 else "through sudo (it asks for your password on the terminal): "
            what = sudo + "; ".join(" ".join(step.argv) for step in part.steps if step.needs_root)
        else:
            what = part.title
        asks.append((part.fix_id, why, what))
    return asks


class InstallConsent(ModalScreen[bool]):
    DEFAULT_CSS = """
    InstallConsent { align: center middle; }
    InstallConsent > Vertical {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    InstallConsent #consent-title { text-style: bold; }
    InstallConsent VerticalScroll { height: auto; max-height: 16; }
    InstallConsent Horizontal { height: auto; align-horizontal: right; }
    InstallConsent Button { margin-left: 1; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Install", id="install.consent.yes", tooltip="Go ahead with the whole install."),
        Binding("n,escape", "answer(False)", "Don't", id="install.consent.no", tooltip="Close; nothing is changed."),
    ]

    def __init__(self, asks: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.asks = asks

    def compose(self) -> ComposeResult:
        text = Text()
        for part, why, what in self.asks:
            text.append(f"{part} {why}", style="bold")
            text.append(f": {what}\n")
        text.append("\nNo: nothing is downloaded, installed or recorded.", style="dim")
        with Vertical():
            yield Label("The install needs your consent", id="consent-title")
            with VerticalScroll():
                yield Static(text, id="consent-body")
            with Horizontal():
                yield Button("Install (y)", id="yes", variant="warning")
                yield Button("Cancel (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(bool(yes))

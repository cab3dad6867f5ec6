"""The fix's plan (commands, the diff of file edits) in a dialog that returns True to apply it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


def plan_text(plan) -> Text:
    """The plan as the dialog shows it: steps, argv, and the colored diff of each file edit."""
    text = Text()
    if getattr(plan, "blocked", None):
        text.append(f"cannot fix here: {plan.blocked}\n", style="bold red")
    elif not plan.steps:
        text.append(f"already done: {plan.done_reason or 'nothing to change'}\n", style="green")
    for number, step in enumerate(plan.steps, 1):
        flags = [f for f, on in (("needs root", step.needs_root), ("needs restart", step.needs_restart)) if on]
        text.append(f"{number}. ", style="bold")
        text.append(step.description, style="bold")
        text.append(f"  [{', '.join(flags)}]\n" if flags else "\n", style="bold yellow")
        if getattr(step, "kind", "") == "edit":
            text.append(f"   {'create' if step.creates else 'edit'} {step.path}\n")
            for line in step.diff().splitlines():
                if line.startswith(("--- ", "+++ ")):
                    continue  # the path is named above
                style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim" if line.startswith("@@") else ""
                text.append(f"   {line}\n", style=style)
        else:
            text.append(f"   run {list(step.argv)!r}\n")
    for step in getattr(plan, "followups", ()):
        text.append(f"then (offered): {step.description}\n", style="italic")
    for note in getattr(plan, "notes", ()):
        text.append(f"note: {note}\n", style="dim")
    return text


class FixPreview(ModalScreen[bool]):
    DEFAULT_CSS = """
    FixPreview { align: center middle; }
    FixPreview > Vertical {
        width: 90%; max-width: 100; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    FixPreview #plan-title { text-style: bold; width: 1fr; }
    FixPreview VerticalScroll { height: 1fr; }
    FixPreview Horizontal { height: auto; align-horizontal: right; }
    FixPreview Button { margin-left: 1; }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Apply", id="fix.apply", tooltip="Apply this plan (files are backed up first)."),
        Binding("n,escape", "answer(False)", "Don't", id="fix.decline", tooltip="Close without changing anything."),
    ]

    def __init__(self, plan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        plan = self.plan
        can_apply = bool(plan.steps) and not getattr(plan, "blocked", None)
        with Vertical():
            yield Label(f"fix {plan.fix_id}: {plan.title}", id="plan-title")
            with VerticalScroll():
                yield Static(plan_text(plan), id="plan-body")
            with Horizontal():
                yield Button("Apply (y)", id="apply", variant="warning", disabled=not can_apply)
                yield Button("Cancel (n)", id="decline", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#decline", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "apply")

    def action_answer(self, yes: bool) -> None:
        can_apply = bool(self.plan.steps) and not getattr(self.plan, "blocked", None)
        self.dismiss(bool(yes and can_apply))

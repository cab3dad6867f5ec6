"""Install DiffRhythm: the plan `drdoctor install` computes, consent, then that same install with live progress.

The plan comes from the installer's own planner (`engines.plan_install`: its parser, reachability probe and
`make_plan`), shown part by part as the fix dialog shows a plan. Installing runs `drdoctor install --yes
--no-check --events FILE` (`install_process`), after the consent dialog where the CLI would ask; its events
fill one line per part and one bar per downloaded file. At the end the app runs the checkup again and shows
what the install put right and the command that makes the first song.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Footer, Static

from doctor.commands import install as install_cmd
from doctor.findings import Status
from doctor.tui import engines, messages
from doctor.tui.install_process import InstallProcess
from doctor.tui.install_state import DONE_STATES, INSTALL_FINDINGS, InstallState
from doctor.tui.screens.fix_preview import plan_text
from doctor.tui.screens.install_consent import InstallConsent, consent_needed
from doctor.tui.widgets.download_progress import DownloadBars
from doctor.tui.widgets.findings_table import MARKS, STYLES
from doctor.tui.widgets.run_log import RunLog
from doctor.units import gib

PART_MARKS = {"pending": ("·", "dim"), "running": ("…", "bold cyan"), "applied": ("✓", "green"), "done": ("✓", "green"),
              "blocked": ("✗", "bold red"), "failed": ("✗", "bold red"), "declined": ("–", "yellow"),
              "interrupted": ("!", "bold yellow")}
OUTCOMES = {  # drdoctor install's exit statuses
    install_cmd.EXIT_OK: ("DiffRhythm installed", "bold green"),
    install_cmd.EXIT_INTERRUPTED: ("install cancelled", "bold yellow"),
    install_cmd.EXIT_FAILED: ("install FAILED", "bold red"),
    install_cmd.EXIT_USAGE: ("install not complete: a part was not confirmed", "bold yellow"),
    install_cmd.EXIT_ENVIRONMENT: ("install not complete: something could not be reached, or there is too little space",
                                   "bold red"),
}


def install_plan_text(plan) -> Text:
    """The whole plan: what it was made from (paths, the torch build and why, what cannot be reached), what
    asks first, then each part as the fix dialog shows a plan (steps, notes, why blocked or already done)."""
    text = Text()
    for fact in plan.facts:
        text.append(f"{fact}\n", style="bold red" if fact.startswith("cannot reach") else "")
    asks = consent_needed(plan)
    if asks:
        text.append("asks first: " + "; ".join(f"{part} {why}" for part, why, _ in asks) + "\n",
                    style="bold yellow")
    for part in plan.parts:
        state = "blocked" if part.blocked else "done" if part.empty else "pending"
        mark, style = PART_MARKS[state]
        text.append(f"\n{mark} {part.fix_id}: {part.title}\n", style=f"bold {style}" if state != "pending" else "bold")
        text.append_text(plan_text(part))
    return text


def parts_text(state: InstallState) -> Text:
    text = Text()
    for part in state.parts.values():
        mark, style = PART_MARKS.get(part.state, ("?", ""))
        text.append(f"{mark} {part.part:<20} ", style=style)
        text.append(part.state, style=style)
        if part.message and part.state not in ("running", "pending"):
            text.append(f": {part.message}", style="" if part.state in DONE_STATES else style)
        text.append("\n")
    return text


class InstallScreen(Screen):
    HELP = "install"
    AUTO_FOCUS = "#install-button"
    BINDINGS = [
        Binding("ctrl+r", "install", "Install", id="install.run", priority=True,
                tooltip="Plan again, ask where the CLI would (over 1 GB, root), then run `drdoctor install`."),
        Binding("escape", "cancel", "Cancel", id="install.cancel",
                tooltip="SIGINT to the install: what finished is kept, a partial download is continued next time."),
        Binding("p", "plan", "Plan again", id="install.plan", tooltip="Compute the plan again (nothing is changed)."),
        Binding("ctrl+e", "toggle_view", "Plan/Progress", id="install.toggle", priority=True,
                tooltip="Switch between the plan and the install's progress."),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.plan = None
        self.state = InstallState()
        self.process: InstallProcess | None = None
        self.planning = False
        self.running = False
        self.checking = False
        self.report = None  # the checkup after the install
        self._dirty = False
        self._log_lines: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("Install DiffRhythm", id="install-title")
        with ContentSwitcher(initial="install-plan-view", id="install-switcher"):
            with VerticalScroll(id="install-plan-view"):
                yield Static("", id="install-plan")
                yield Button("Install DiffRhythm (ctrl+r)", id="install-button", variant="primary")
            with VerticalScroll(id="install-progress"):
                yield Static("", id="install-parts")
                yield Static("", id="install-outcome")
                yield DownloadBars(id="downloads")
                yield RunLog("installer output", id="install-log")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1 / 10, self._redraw, name="render install")
        self._plan(False)

    def _title(self, text: str, style: str = "bold") -> None:
        self.query_one("#install-title", Static).update(Text(text, style=style))

    # ---------------------------------------------------------------- the plan, consent
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "cancel":
            return self.running
        if action in ("install", "plan"):
            return not (self.running or self.planning)
        return True

    def action_plan(self) -> None:
        if not (self.running or self.planning):
            self._plan(False)

    @on(Button.Pressed, "#install-button")
    def action_install(self) -> None:
        if not (self.running or self.planning):
            self._plan(True)

    @work(exclusive=True, group="install-plan", exit_on_error=False, name="install plan")
    async def _plan(self, then_install: bool) -> None:
        self.planning = True
        self.refresh_bindings()
        self._title("planning: asking the Hub, the source host and the package indexes…", "italic")
        try:
            plan = await asyncio.to_thread(engines.plan_install, self.app.options.install_argv())
        except Exception as exc:  # noqa: BLE001 - a bad family or option: shown, the app stays
            self._title(f"no plan: {exc}", "bold red")
            return
        finally:
            self.planning = False
            self.refresh_bindings()
        self.plan = plan
        self.query_one("#install-plan", Static).update(install_plan_text(plan))
        self._title(f"Install {plan.facts[0].split(' (')[0]}")
        if not then_install:
            return
        self.query_one(ContentSwitcher).current = "install-plan-view"
        asks = consent_needed(plan)
        if asks and not await self.app.push_screen_wait(InstallConsent(asks)):
            self.notify("nothing was changed")
            return
        if not self._root_parts_on_the_terminal(plan):
            return
        self._start(plan)

    def _root_parts_on_the_terminal(self, plan) -> bool:
        """Not root: a part run through sudo (the system packages, the `espeak.install` fix) runs first as
        `drdoctor fix ID --yes` on the terminal, the app suspended, so sudo can ask for the password there."""
        if os.geteuid() == 0:
            return True
        from textual.app import SuspendNotSupported

        for part in [p for p in plan.parts if p.needs_root and not p.blocked and p.steps]:
            try:
                with self.app.suspend():
                    done = subprocess.run([sys.executable, "-m", "doctor", "fix", part.fix_id, "--yes"], check=False)
            except SuspendNotSupported:
                self.notify(f"{part.fix_id} needs sudo, which cannot ask here: run `drdoctor fix {part.fix_id}` in a "
                            "terminal, then install again", severity="error", timeout=20)
                return False
            if done.returncode != 0:
                self.notify(f"{part.fix_id} failed (exit {done.returncode}); nothing else was run", severity="error")
                return False
        return True

    # ---------------------------------------------------------------- the install
    def _start(self, plan) -> None:
        self.state = InstallState()
        self.state.plan(plan.parts)
        self.report = None
        self.running, self._dirty = True, True
        self._log_lines = []
        self.query_one(DownloadBars).reset()
        self.query_one(RunLog).reset()
        self.query_one("#install-outcome", Static).update("")
        self.query_one(ContentSwitcher).current = "install-progress"
        self._title("installing… (esc cancels)")
        self.refresh_bindings()
        self._stream(self.app.options.install_argv())

    @work(thread=True, exclusive=True, group="install-run", exit_on_error=False, name="install")
    def _stream(self, args: list[str]) -> None:
        try:
            self.process = InstallProcess(args, self.post_message)
        except OSError as exc:
            self.post_message(messages.InstallOutput([f"cannot start drdoctor install: {exc}"]))
            self.post_message(messages.InstallExited(127))
            return
        self.process.stream()

    def action_cancel(self) -> None:
        if self.running and self.process is not None:
            self.process.interrupt()
            self._title("cancelling: each step stops where it is…", "bold yellow")

    def on_unmount(self) -> None:
        if self.running and self.process is not None:
            self.process.interrupt()

    def on_install_event(self, message: messages.InstallEvent) -> None:
        self.state.apply(message.event)
        self._dirty = True

    def on_install_output(self, message: messages.InstallOutput) -> None:
        self._log_lines.extend(message.lines)

    def on_install_exited(self, message: messages.InstallExited) -> None:
        self.state.exited(message.returncode)
        self.running = False
        self._dirty = True
        self._redraw()
        label, style = OUTCOMES.get(message.returncode, (f"ended with exit {message.returncode}", "bold red"))
        self._title(f"{label} (exit {message.returncode})", style)
        self.refresh_bindings()
        self.checking = True
        self._show_outcome()
        self._checkup()

    def _redraw(self) -> None:
        if self._dirty:
            self.query_one("#install-parts", Static).update(parts_text(self.state))
            self._dirty = not self.query_one(DownloadBars).show(self.state.downloads)
        if self._log_lines:
            self.query_one(RunLog).write_lines(self._log_lines)
            self._log_lines = []

    # ---------------------------------------------------------------- the end: checkup, first song
    @work(thread=True, exclusive=True, group="checkup", exit_on_error=False, name="checkup after install")
    def _checkup(self) -> None:
        report = engines.stream_checkup(self.app.options.checkup, lambda finding: None)
        self.post_message(messages.CheckupFinished(report))

    def on_checkup_finished(self, message: messages.CheckupFinished) -> None:
        if message.report is None:
            return
        self.checking = False
        self.report = self.app.report = message.report
        for screen in self.app._screens_of("checkup"):  # F2 shows this checkup too
            screen.post_message(messages.CheckupFinished(message.report, message.seconds))
        self._show_outcome()

    def on_checkup_failed(self, message: messages.CheckupFailed) -> None:
        self.checking = False
        self._show_outcome(checkup_error=message.error)

    def _show_outcome(self, checkup_error: str | None = None) -> None:
        state, text = self.state, Text()  # what each part did (and why one stopped) is in the lines above
        code = state.exit_code
        if code == install_cmd.EXIT_INTERRUPTED:
            partial = state.partial()
            if partial:
                text.append("kept: " + ", ".join(f"the partial download of {d.file} (at least {gib(d.done)} of "
                                                 f"{gib(d.total)})" for d in partial)
                            + "; ctrl+r installs again and continues it\n")
            text.append("what finished is kept; the config records only what is complete\n")
        if state.first_song:
            text.append("DiffRhythm is installed. Make your first song:\n", style="bold green")
            text.append(f"  {state.first_song}\n")
        elif state.finished:
            missing = [name for name, ok in state.finished.get("installed", {}).items() if not ok]
            text.append(f"not complete yet: {', '.join(missing)}; what is in place is kept\n", style="bold")
        if checkup_error:
            text.append(f"the checkup failed: {checkup_error}\n", style="bold red")
        elif self.checking:
            text.append("checkup: running…\n", style="italic")
        elif self.report is not None:
            text.append("checkup:\n", style="bold")
            findings = {f.id: f for f in engines.report_findings(self.report)}
            for check_id in INSTALL_FINDINGS:
                finding = findings.get(check_id)
                if finding is None:
                    continue
                mark, word = MARKS[finding.status]
                text.append(f"  {mark} {word:<4} {check_id:<16} ", style=STYLES[finding.status])
                text.append(f"{finding.title}\n", style="" if finding.status is Status.OK else "bold")
        self.query_one("#install-outcome", Static).update(text)

    def action_toggle_view(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        switcher.current = "install-plan-view" if switcher.current == "install-progress" else "install-progress"

"""Checkup: findings appear as their probes finish; select one for why it matters; fix, re-run, save.

The checkup runs in a thread worker (`engines.stream_checkup`, the engine behind `drdoctor check`);
it posts one `FindingArrived` per finding, so the table fills while slow probes are still running.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Log, Static
from textual.worker import get_current_worker

from doctor.findings import Finding, Status
from doctor.tui import engines, messages
from doctor.tui.install_state import install_wanted
from doctor.tui.screens.fix_preview import FixPreview
from doctor.tui.widgets.mode_bar import ModeBar
from doctor.tui.widgets.findings_table import MARKS, STYLES, FindingsTable


class CheckupScreen(Screen):
    HELP = "checkup"
    AUTO_FOCUS = "#findings"
    BINDINGS = [
        Binding("r", "rerun", "Re-run", id="checkup.rerun", tooltip="Run the whole checkup again."),
        Binding("f", "fix", "Fix", id="checkup.fix",
                tooltip="Show the selected finding's fix plan and apply it after you confirm."),
        Binding("c", "copy_report", "Copy JSON", id="checkup.copy",
                tooltip="Copy the JSON report (home paths and user names redacted) to the clipboard."),
        Binding("s", "save_report", "Save JSON", id="checkup.save",
                tooltip="Save the redacted JSON report to a file and say where."),
        Binding("i", "install", "Install DiffRhythm", id="checkup.install",
                tooltip="Install the checkout, the environment and the weights: the plan first, then consent."),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.findings: dict[str, Finding] = {}
        self.running = False
        self.fixing = False
        self.started = 0.0
        self.before_fix: dict[str, Finding] = {}
        self.recheck_ids: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        yield ModeBar("checkup")
        with Vertical(id="checkup-body"):
            yield Static("checkup not run yet", id="summary")
            with Horizontal(id="install-offer", classes="-hidden"):
                yield Static("", id="install-offer-text")
                yield Button("Install DiffRhythm (i)", id="install-offer-button", variant="warning", compact=True)
            yield FindingsTable(id="findings")
            with VerticalScroll(id="detail-pane"):
                yield Static("", id="detail")
            yield Log(id="fix-output", max_lines=2000, classes="-hidden")
        yield Footer()

    def on_mount(self) -> None:
        if self.app.options.autostart_checkup:
            self.call_after_refresh(self.action_rerun)

    # ------------------------------------------------------------------ the checkup
    def action_rerun(self) -> None:
        if self.running:
            return
        # the old findings stay on screen (and the cursor on its row) until fresh ones replace them
        self.running, self.started = True, time.monotonic()
        self._summary()
        self._run_checkup()

    @work(thread=True, exclusive=True, group="checkup", exit_on_error=False, name="checkup")
    def _run_checkup(self) -> None:
        worker = get_current_worker()
        started = time.monotonic()

        def arrived(finding: Finding) -> None:
            if not worker.is_cancelled:
                self.post_message(messages.FindingArrived(finding))

        try:
            report = engines.stream_checkup(self.app.options.checkup, arrived)
        except Exception as exc:  # the engine failed: show it, keep the app alive
            self.post_message(messages.CheckupFailed(f"{type(exc).__name__}: {exc}"))
            return
        if not worker.is_cancelled:
            self.post_message(messages.CheckupFinished(report, time.monotonic() - started))

    def on_finding_arrived(self, message: messages.FindingArrived) -> None:
        self.findings[message.finding.id] = message.finding
        self.query_one(FindingsTable).add_finding(message.finding)
        self._summary()

    def on_checkup_finished(self, message: messages.CheckupFinished) -> None:
        self.running = False
        if message.report is None:
            return
        self.app.report = message.report
        fresh = {f.id: f for f in engines.report_findings(message.report)}
        if fresh.keys() != self.findings.keys() or any(fresh[i] != self.findings[i] for i in fresh):
            self.findings = dict(fresh)
            self.query_one(FindingsTable).set_findings(list(fresh.values()))
        if self.fixing:
            self._log_recheck(fresh)
        self.fixing = False
        self._summary(seconds=message.seconds)
        self._offer_install(list(fresh.values()))
        self.app.post_message(messages.CheckupFinished(None, message.seconds))  # tell the other screens

    def on_checkup_failed(self, message: messages.CheckupFailed) -> None:
        self.running = self.fixing = False
        self.query_one("#summary", Static).update(Text(f"the checkup failed: {message.error}", style="bold red"))

    def _summary(self, seconds: float | None = None) -> None:
        counts = {status: 0 for status in Status}
        for finding in self.findings.values():
            counts[finding.status] += 1
        text = Text()
        for status in (Status.FAIL, Status.WARN, Status.OK, Status.INFO, Status.SKIP):
            if counts[status]:
                text.append(f"{counts[status]} {MARKS[status][1]} ", style=STYLES[status])
        if self.running:
            text.append("· checking…", style="italic")
        elif seconds is not None:
            text.append("· fix the failures first" if counts[Status.FAIL] else "· ready to generate")
        self.query_one("#summary", Static).update(text)

    def _offer_install(self, findings: list[Finding]) -> None:
        """Prominent when the checkout, the environment or the weights are missing or broken."""
        wanted = install_wanted(findings)
        self.query_one("#install-offer").set_class(not wanted, "-hidden")
        self.query_one("#install-offer-text", Static).update(
            Text(f"the install puts right: {', '.join(wanted)}", style="bold") if wanted else "")

    @on(Button.Pressed, "#install-offer-button")
    async def action_install(self) -> None:
        await self.app.switch_mode("install")

    # ------------------------------------------------------------------ detail
    @on(FindingsTable.Highlighted)
    def _show_detail(self, event: FindingsTable.Highlighted) -> None:
        finding = event.finding
        self.refresh_bindings()
        detail = self.query_one("#detail", Static)
        if finding is None:
            detail.update("select a finding to see what was seen and why it matters")
            return
        text = Text()
        text.append(f"{MARKS[finding.status][0]} {finding.id}: ", style=STYLES[finding.status])
        text.append(finding.title + "\n", style="bold")
        if finding.detail:
            text.append(finding.detail + "\n")
        if finding.fix:
            text.append(f"fix: press f (or `drdoctor fix {finding.fix}`)", style="italic")
        detail.update(text)

    # ------------------------------------------------------------------ fixes
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "fix":
            finding = self.query_one(FindingsTable).selected()
            return finding is not None and bool(finding.fix) and not self.fixing
        return True

    def action_fix(self) -> None:
        finding = self.query_one(FindingsTable).selected()
        if finding is None or not finding.fix:
            self.notify("the selected finding has no fix", severity="warning")
            return
        self._plan_and_apply(finding.fix)

    @work(exclusive=True, group="fix", exit_on_error=False, name="fix")
    async def _plan_and_apply(self, fix_id: str) -> None:
        plan = await self._in_thread(engines.plan_fix, fix_id, self.app.options.checkup, self.app.report,
                                     self.app.options.fix)
        if plan is None:
            self.notify(f"no fix plan for {fix_id}", severity="error")
            return
        if not await self.app.push_screen_wait(FixPreview(plan)):
            self.notify("nothing was changed")
            return
        self.fixing = True
        log = self.query_one("#fix-output", Log)
        log.remove_class("-hidden")
        log.clear()
        self._apply(plan)

    async def _in_thread(self, fn, *args):
        worker = self.run_worker(lambda: fn(*args), thread=True, group="plan", exit_on_error=False)
        await worker.wait()
        return worker.result

    @work(thread=True, exclusive=True, group="apply", exit_on_error=False, name="apply")
    def _apply(self, plan) -> None:
        post = self.post_message

        class Out:
            def write(self, text: str) -> int:
                for line in text.splitlines():
                    post(messages.FixOutput(line))
                return len(text)

            def flush(self) -> None:
                pass

        try:
            outcome = engines.apply_fix(plan, self.app.options.checkup, self.app.report, self.app.options.fix, Out())
        except Exception as exc:
            post(messages.FixDone(plan.fix_id, False, f"{type(exc).__name__}: {exc}"))
            return
        result = outcome.result
        post(messages.FixDone(plan.fix_id, result.ok, f"{result.state}: {result.message}".rstrip(": "), outcome.checks))

    def on_fix_output(self, message: messages.FixOutput) -> None:
        self.query_one("#fix-output", Log).write_line(message.text)

    def on_fix_done(self, message: messages.FixDone) -> None:
        log = self.query_one("#fix-output", Log)
        log.write_line(f"== {message.fix_id} {message.summary}")
        self.notify(f"{message.fix_id}: {message.summary}", severity="information" if message.ok else "error")
        if not message.ok:
            self.fixing = False
            return
        ids = message.check_ids  # the checks whose findings point to this fix: judged again below
        self.before_fix = {i: self.findings[i] for i in ids if i in self.findings}
        self.recheck_ids = ids
        self.running = True
        self._summary()
        self._run_checkup()

    def _log_recheck(self, fresh: dict[str, Finding]) -> None:
        """After a fix: the affected checks, before and after."""
        log = self.query_one("#fix-output", Log)
        for check_id in self.recheck_ids:
            old, new = self.before_fix.get(check_id), fresh.get(check_id)
            if new is None:
                continue
            was = old.status.value if old else "?"
            log.write_line(f"re-checked {check_id}: {was} -> {new.status.value}  {new.title}")

    # ------------------------------------------------------------------ report
    def _report_json(self) -> str | None:
        if self.app.report is None:
            self.notify("no report yet: the checkup is still running", severity="warning")
            return None
        return engines.report_json(self.app.report, redact=True)

    def action_copy_report(self) -> None:
        text = self._report_json()
        if text is not None:
            self.app.copy_to_clipboard(text)
            self.notify(f"JSON report copied ({len(text)} characters, redacted)")

    def action_save_report(self) -> None:
        text = self._report_json()
        if text is None:
            return
        path = Path(self.app.report_path)
        path.write_text(text + "\n", encoding="utf-8")
        self.notify(f"report saved to {path}")

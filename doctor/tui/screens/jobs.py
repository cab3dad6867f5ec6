"""Jobs: the service's queue (`drdoctor queue list`), the selected job's live stages, cancel, open its run.

Reads the same database and rows as `drdoctor queue` and `drdoctor serve` (doctor/service/store.py), on a
thread, every second; nothing here decides what those commands would not.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from runner.events import STAGES

STATE_STYLE = {"succeeded": "bold green", "cached": "green", "running": "bold cyan", "queued": "",
               "cancelling": "yellow", "cancelled": "bold yellow", "dead": "bold red"}
REFRESH_S = 1.0


def stage_lines(events: list[dict[str, Any]]) -> Text:
    """One line per stage of the newest attempt: waiting, running (done/total), or its seconds."""
    newest = max((e["attempt"] for e in events), default=None)
    state: dict[str, str] = {}
    for item in events:
        if item["attempt"] != newest:
            continue
        event = item["event"]
        stage = event.get("stage")
        if event.get("type") == "stage_started":
            state[stage] = "running"
        elif event.get("type") == "stage_progress":
            state[stage] = f"{event.get('done')}/{event.get('total')}"
        elif event.get("type") == "stage_finished":
            state[stage] = f"done in {event.get('seconds', 0):.2f} s"
        elif event.get("type") == "error":
            state[stage] = f"failed: {event.get('message')}"
    text = Text()
    for stage in STAGES:
        value = state.get(stage, "-")
        style = "green" if value.startswith("done") else "red" if value.startswith("failed") else \
            "cyan" if value != "-" else "dim"
        text.append(f"{stage:<10} {value}\n", style=style)
    return text


class JobsScreen(Screen):
    HELP = "jobs"
    AUTO_FOCUS = "#jobs-table"
    BINDINGS = [
        Binding("c", "cancel", "Cancel job", id="jobs.cancel",
                tooltip="Cancel the selected job (a running one stops at its next step and can be retried)."),
        Binding("o", "open_run", "Open run", id="jobs.open_run",
                tooltip="Open the selected job's run folder in the generate form, to resume it here."),
        Binding("g", "reload", "Reload", id="jobs.reload", tooltip="Read the queue again."),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.url: str | None = None
        self.jobs: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("connecting to the job database...", id="jobs-summary")
            yield DataTable(id="jobs-table", cursor_type="row")
            yield Static("", id="job-stages")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in ("job", "state", "tries", "seed", "worker", "song / message"):
            table.add_column(name, key=name)
        self.action_reload()
        self.set_interval(REFRESH_S, self.action_reload)

    def selected(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.jobs.get(str(key))

    def action_reload(self) -> None:
        chosen = self.selected()
        self._load(chosen["id"] if chosen else None)

    @work(thread=True, exclusive=True, group="jobs", exit_on_error=False)
    def _load(self, chosen: int | None) -> None:
        from doctor import config as config_mod
        from doctor.service import schema, store

        try:
            if self.url is None:
                self.url = schema.ready_url(None, config_mod.load())
            jobs = store.list_jobs(self.url, 200)
            focus = chosen if chosen is not None else (jobs[0]["id"] if jobs else None)
            events = store.events(self.url, focus, 0, 5000) if focus is not None else []
        except Exception as exc:  # noqa: BLE001 - a missing service or database is shown, not raised
            self.app.call_from_thread(self._unavailable, str(exc))
            return
        self.app.call_from_thread(self._show, jobs, focus, events)

    def _unavailable(self, why: str) -> None:
        self.query_one("#jobs-summary", Static).update(f"no job database: {why}")

    def _show(self, jobs: list[dict[str, Any]], focus: int | None, events: list[dict[str, Any]]) -> None:
        table = self.query_one(DataTable)
        keep = self.selected()
        table.clear()
        self.jobs = {str(j["id"]): j for j in jobs}
        for j in jobs:
            table.add_row(str(j["id"]), Text(j["state"], style=STATE_STYLE.get(j["state"], "")), str(j["attempts"]),
                          str(j["seed"]), j["worker"] or "-", j["output"] or j["message"] or "", key=str(j["id"]))
        if keep is not None and str(keep["id"]) in self.jobs:
            table.move_cursor(row=table.get_row_index(str(keep["id"])))
        running = sum(j["state"] == "running" for j in jobs)
        queued = sum(j["state"] == "queued" for j in jobs)
        self.query_one("#jobs-summary", Static).update(
            f"{len(jobs)} jobs · {running} running · {queued} queued" if jobs else "no jobs yet (drdoctor queue add)")
        stages = self.query_one("#job-stages", Static)
        if focus is None:
            stages.update("")
        else:
            header = Text(f"job {focus}: {self.jobs[str(focus)]['state'] if str(focus) in self.jobs else '?'}\n",
                          style="bold")
            stages.update(header + stage_lines(events))

    @work(thread=True, group="jobs-cancel", exit_on_error=False)
    def action_cancel(self) -> None:
        from doctor.service import store

        job = self.selected()
        if job is None or self.url is None:
            return
        if store.cancel(self.url, job["id"]):
            self.app.call_from_thread(self.notify, f"job {job['id']}: cancel requested")
        else:
            self.app.call_from_thread(self.notify, f"job {job['id']} is {job['state']}: nothing to cancel",
                                      severity="warning")

    async def action_open_run(self) -> None:
        job = self.selected()
        if job is None or not job.get("run_dir"):
            self.notify("the selected job has no run folder yet", severity="warning")
            return
        await self.app.resume_run(job["run_dir"])

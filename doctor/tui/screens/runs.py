"""Runs: the history read from the run folders, with resume for the resumable ones."""

from __future__ import annotations

from pathlib import Path

from rich.cells import cell_len
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from doctor.tui import messages
from doctor.tui.run_history import RunRecord, list_runs
from doctor.tui.widgets.fit import cut_start
from doctor.tui.widgets.mode_bar import ModeBar

COLUMNS = ("run", "status", "length", "when", "output")
STATUS_STYLE = {"ok": "bold green", "failed": "bold red", "cancelled": "bold yellow", "unfinished": "yellow"}


class RunsScreen(Screen):
    HELP = "runs"
    AUTO_FOCUS = "#runs-table"
    BINDINGS = [
        Binding("ctrl+t", "resume", "Resume", id="runs.resume",
                tooltip="Resume the selected run from what it had finished (cancelled or failed runs)."),
        Binding("g", "reload", "Reload", id="runs.reload", tooltip="Read the run folders again."),
        Binding("s", "use_style", "Use style", id="runs.use_style",
                tooltip="Reuse the selected run's style vector in the generate form (From run)."),
        Binding("e", "edit_song", "Edit song", id="runs.edit_song",
                tooltip="Open the selected run's song in the generate form to regenerate parts of it."),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, RunRecord] = {}

    def compose(self) -> ComposeResult:
        yield ModeBar("runs")
        with Vertical():
            yield Static("", id="runs-summary")
            yield DataTable(id="runs-table", cursor_type="row")
            yield Static("", id="run-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        self.action_reload()

    def on_resize(self) -> None:
        if self.records:
            self._show(Path(self.app.options.run_dir), list(self.records.values()))  # paths cut to the new width

    def on_screen_resume(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self._load(Path(self.app.options.run_dir))

    @work(thread=True, exclusive=True, group="runs", exit_on_error=False)
    def _load(self, run_dir: Path) -> list[RunRecord]:
        records = list_runs(run_dir)
        self.app.call_from_thread(self._show, run_dir, records)
        return records

    def _show(self, run_dir: Path, records: list[RunRecord]) -> None:
        table = self.query_one(DataTable)
        keep = self.selected()
        table.clear()
        self.records = {r.run: r for r in records}
        rows = [(r.run, r.status + (" ↻" if r.resumable else ""), f"{r.length:g} s" if r.length else "-", r.when)
                for r in records]
        # the output path gets what the other columns leave (a cell of padding each side, the scrollbar counted)
        used = sum(max([len(name), *(cell_len(row[i]) for row in rows)]) + 2 for i, name in enumerate(COLUMNS[:-1]))
        room = table.size.width - table.styles.scrollbar_size_vertical - used - 2
        for r, (run, status, length, when) in zip(records, rows):
            output = cut_start(r.output, room) if r.output and room > 0 else r.output or "-"
            table.add_row(run, Text(status, style=STATUS_STYLE.get(r.status, "")), length, when, output, key=r.run)
        if keep is not None and keep.run in self.records:
            table.move_cursor(row=table.get_row_index(keep.run))
        self.query_one("#runs-summary", Static).update(
            f"{len(records)} runs in {run_dir} · ↻ resumable" if records else f"no runs in {run_dir} yet")
        self._detail()

    def selected(self) -> RunRecord | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return self.records.get(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or "")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()
        self.refresh_bindings()

    def _detail(self) -> None:
        record = self.selected()
        box = self.query_one("#run-detail", Static)
        if record is None:
            box.update("")
            return
        text = Text(f"folder {cut_start(str(record.folder), box.content_size.width - len('folder '))}\n")
        facts = ([f"took {record.seconds:.1f} s"] if record.seconds is not None else []) + (
            [f"seed {record.seed}"] if record.seed is not None else [])
        if facts:
            text.append(" · ".join(facts) + "\n")
        if record.status in ("failed", "cancelled"):
            text.append(f"{record.status} in {record.failed_stage or '?'}: {record.message}\n",
                        style=STATUS_STYLE[record.status])
        if record.resumable:
            text.append("resumable: press enter", style="italic")
        box.update(text)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        record = self.selected() if self.is_mounted else None
        if action == "resume":
            return record is not None and record.resumable
        if action == "use_style":
            return record is not None and (record.folder / "style.pt").is_file()
        if action == "edit_song":
            return record is not None and bool(record.output) and Path(record.output).is_file()
        return True

    async def action_use_style(self) -> None:
        record = self.selected()
        if record is None or not (record.folder / "style.pt").is_file():
            self.notify("this run kept no style vector (style.pt)", severity="warning")
            return
        await self.app.fill_generate_form(style_from=str(record.folder))

    async def action_edit_song(self) -> None:
        record = self.selected()
        if record is None or not record.output or not Path(record.output).is_file():
            self.notify("this run left no song to edit", severity="warning")
            return
        await self.app.fill_generate_form(edit=record.output)

    async def action_resume(self) -> None:
        record = self.selected()
        if record is None or not record.resumable:
            self.notify("this run cannot be resumed", severity="warning")
            return
        await self.app.resume_run(str(record.folder))

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        await self.action_resume()

    def on_runs_changed(self, message: messages.RunsChanged) -> None:
        self.action_reload()

"""The checkup's findings as a table grouped by area (the id's first part), worst marks first."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from doctor.findings import Finding, Status
from doctor.report import AREA_TITLES
from doctor.tui.widgets.fit import cut_end

MARKS = {
    Status.OK: ("✓", "ok"),
    Status.INFO: ("i", "info"),
    Status.WARN: ("!", "warn"),
    Status.FAIL: ("✗", "fail"),
    Status.SKIP: ("-", "skip"),
}
# rich styles that read on light and dark backgrounds alike
STYLES = {Status.OK: "bold green", Status.INFO: "bold blue", Status.WARN: "bold yellow",
          Status.FAIL: "bold red", Status.SKIP: "dim"}
SEVERITY = {Status.FAIL: 0, Status.WARN: 1, Status.INFO: 2, Status.OK: 3, Status.SKIP: 4}


def area_of(finding: Finding) -> str:
    return finding.id.split(".", 1)[0]


def mark(status: Status) -> Text:
    symbol, word = MARKS[status]
    return Text(f"{symbol} {word}", style=STYLES[status])


class FindingsTable(DataTable):
    """Rows are `area` headers followed by their findings; selecting a finding posts `Selected`."""

    DEFAULT_CSS = """
    FindingsTable { height: 1fr; overflow-x: hidden; }
    """

    @dataclass
    class Highlighted(Message):
        finding: Finding | None

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.findings: dict[str, Finding] = {}

    def on_mount(self) -> None:
        self._title_width = 0
        self.add_column("", key="mark", width=6)
        self.add_column("id", key="id")
        self.add_column("what was seen", key="title")

    def set_findings(self, findings: list[Finding]) -> None:
        self.findings = {f.id: f for f in findings}
        self._rebuild()

    def add_finding(self, finding: Finding) -> None:
        self.findings[finding.id] = finding
        self._rebuild()

    def selected(self) -> Finding | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.findings.get(key or "")

    def _rebuild(self) -> None:
        # keep the cursor on its finding, unless it is on the first row (then it stays at the top)
        keep = None
        if self.row_count and self.cursor_row > 0:
            keep = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        self.clear()
        areas: dict[str, list[Finding]] = {}
        for finding in self.findings.values():
            areas.setdefault(area_of(finding), []).append(finding)
        order = sorted(areas, key=lambda a: (min(SEVERITY[f.status] for f in areas[a]), a))
        id_width = max((len(f.id) + 2 for f in self.findings.values()), default=0)
        id_width = max([id_width, *(len(AREA_TITLES.get(a, a)) for a in areas)])
        # what is left for "what was seen": each column has a cell of padding each side, and the vertical
        # scrollbar is counted whether or not it shows yet (it appears once the rows are in)
        width = self.size.width - self.styles.scrollbar_size_vertical
        self._title_width = width - (6 + 2) - (id_width + 2) - 2
        for area in order:
            group = sorted(areas[area], key=lambda f: (SEVERITY[f.status], f.id))
            worst = group[0].status
            self.add_row(Text(MARKS[worst][0], style=STYLES[worst]), Text(AREA_TITLES.get(area, area), style="bold"),
                         Text(f"{len(group)} check{'s' if len(group) != 1 else ''}", style="dim"),
                         key=f"area:{area}")
            for finding in group:
                self.add_row(mark(finding.status), "  " + finding.id, self._fit(finding.title), key=finding.id)
        if keep is not None and keep in self.rows:
            row = self.get_row_index(keep)
            self.move_cursor(row=row, animate=False)
            self.call_after_refresh(self._into_view, keep)  # again once laid out: the table may have shrunk
        self.post_message(self.Highlighted(self.selected()))

    def _fit(self, title: str) -> str:
        return cut_end(title, self._title_width) if self._title_width > 0 else title

    def on_resize(self) -> None:
        self._rebuild()  # "what was seen" is cut to the new width

    def _into_view(self, key: str) -> None:
        if key in self.rows:
            self.move_cursor(row=self.get_row_index(key), animate=False)
            scroll = getattr(self, "_scroll_cursor_into_view", None)  # the cursor did not move: scroll anyway
            if callable(scroll):
                scroll(animate=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Highlighted(self.findings.get(event.row_key.value or "")))

"""One row per weight file the install downloads: its bar, and bytes, rate and time left (the installer's own line)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar

from doctor.install.progress import progress_text
from doctor.tui.install_state import Download
from doctor.tui.widgets.fit import cut_start
from doctor.units import duration, gib

NAME_WIDTH = 25


def describe(d: Download) -> str:
    resumed = f", continued at {gib(d.resumed_from)}" if d.resumed_from else ""
    if d.state == "finished":
        return f"done: {gib(d.done)} in {duration(d.seconds)}{resumed}"
    return progress_text(d.done, d.total, d.rate, d.eta) + resumed


class DownloadRow(Horizontal):
    DEFAULT_CSS = f"""
    DownloadRow {{ height: 1; }}
    DownloadRow .download-name {{ width: {NAME_WIDTH}; }}
    DownloadRow ProgressBar {{ width: 9; }}
    DownloadRow ProgressBar Bar {{ width: 8; }}
    DownloadRow .download-info {{ width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }}
    DownloadRow.-finished .download-name {{ color: $success; }}
    """

    def __init__(self, download: Download) -> None:
        super().__init__(classes="-running")
        self.key = (download.repo, download.file)
        self._first = download

    def compose(self) -> ComposeResult:
        # the repository's name too: several repositories have a config.json
        name = Label(cut_start(f"{self._first.repo.split('/')[-1]}/{self._first.file}", NAME_WIDTH - 1),
                     classes="download-name")
        name.tooltip = f"{self._first.repo}/{self._first.file}"
        yield name
        yield ProgressBar(total=100, show_eta=False, show_percentage=False)
        yield Label("", classes="download-info")

    def show(self, d: Download) -> None:
        self.query_one(ProgressBar).update(total=100, progress=round(d.fraction * 100, 1))
        self.query_one(".download-info", Label).update(describe(d))
        self.set_class(d.state == "finished", "-finished")


class DownloadBars(Vertical):
    DEFAULT_CSS = """
    DownloadBars { height: auto; }
    """

    def show(self, downloads: dict[tuple[str, str], Download]) -> bool:
        """Add a row for each new file, then redraw every row; False while a new row is not mounted yet."""
        rows = {row.key: row for row in self.query(DownloadRow).results(DownloadRow)}
        for key, d in downloads.items():
            if key not in rows:
                rows[key] = DownloadRow(d)
                self.mount(rows[key])
        drawn = True
        for key, row in rows.items():
            if not row.is_mounted:
                drawn = False
            elif key in downloads:
                row.show(downloads[key])
        return drawn

    def text(self) -> list[str]:
        """Each row as a person reads it: the file and its info."""
        return [f"{row.key[1]}: {row.query_one('.download-info', Label).render()}"
                for row in self.query(DownloadRow).results(DownloadRow) if row.is_mounted]

    def reset(self) -> None:
        self.remove_children()

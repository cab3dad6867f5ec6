"""The runner's validation results (`check` events) as they arrive: ok, check, value, limit."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from doctor.units import gib


# the runner's checks whose value and limit are sizes in bytes (runner/pipeline.py: free disk, the batch's
# memory, each model file); their `check` events carry no unit
BYTE_CHECKS = ("disk_", "batch_memory", "file_")


def _fmt(value, is_bytes: bool = False) -> str:
    if is_bytes and isinstance(value, (int, float)) and not isinstance(value, bool):
        return gib(value)
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**6):
        return f"{value:.4g}"
    return "" if value is None else str(value)


class ValidationTable(DataTable):
    DEFAULT_CSS = """
    ValidationTable { height: auto; max-height: 10; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", show_cursor=False, **kwargs)

    def on_mount(self) -> None:
        self.add_column("ok", key="ok")  # first: on a narrow terminal the right end of a row is cut
        self.add_column("check", key="check")
        self.add_column("value", key="value")
        self.add_column("limit", key="limit")

    def add_check(self, check: dict[str, Any]) -> None:
        """One `check` event as a row (a repeated check replaces its row)."""
        passed = bool(check.get("ok"))
        if passed:
            ok = Text("✓ ok", style="bold green")
        elif check.get("severity") == "warn":
            ok = Text("! warn", style="bold yellow")
        else:
            ok = Text("✗ FAIL", style="bold red")
        name = str(check.get("name"))
        if check.get("candidate") is not None:  # a batch: each candidate's checks are their own rows
            name = f"{name} #{check['candidate']}"
        key = f"{check.get('stage')}:{name}"
        if key in self.rows:
            self.remove_row(key)
        label = Text(name, style="" if passed else "bold red")
        is_bytes = str(check.get("name")).startswith(BYTE_CHECKS)
        self.add_row(ok, label, _fmt(check.get("value"), is_bytes), _fmt(check.get("limit"), is_bytes), key=key)

    def reset(self) -> None:
        self.clear()

    def results(self) -> list[tuple[str, str, str, bool]]:
        out = []
        for key in self.rows:
            ok, name, value, limit = self.get_row(key)
            out.append((str(name), str(value), str(limit), "ok" in str(ok)))
        return out

"""The checkup screen driven as a user against a fixture machine with failures, and a real fix."""

from __future__ import annotations

import json

from textual.widgets import Log, Static

from doctor.findings import Status
from doctor.tui.app import DrDoctorApp
from doctor.tui.screens.fix_preview import FixPreview
from doctor.tui.widgets.findings_table import FindingsTable
from tuitools import select_row, wait_until


async def test_findings_grouped_with_detail_and_report(checkup_options, tmp_path):
    app = DrDoctorApp(checkup_options, report_path=tmp_path / "report.json")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: app.report is not None and not screen.running)
        table = screen.query_one(FindingsTable)
        keys = [row.value for row in table.rows]
        # grouped: each area header is followed by its findings, the areas with failures first
        assert keys[0].startswith("area:")
        assert keys.index("area:platform") < keys.index("platform.wsl")
        areas = [k for k in keys if k.startswith("area:")]
        assert areas.index("area:models") < areas.index("area:platform")
        summary = str(screen.query_one("#summary", Static).render())
        assert "fail" in summary and "warn" in summary and "fix the failures first" in summary

        await select_row(pilot, table, "mem.wsl_limit")
        detail = str(screen.query_one("#detail", Static).render())
        assert "mem.wsl_limit" in detail and ".wslconfig" in detail and "press f" in detail

        await pilot.press("s")
        saved = json.loads((tmp_path / "report.json").read_text())
        assert {f["id"] for f in saved["findings"]} >= {"mem.wsl_limit", "models.checkout"}
        assert "/home/alice" not in (tmp_path / "report.json").read_text()  # redacted

        first = app.report
        await pilot.press("r")
        await wait_until(pilot, lambda: app.report is not first and not screen.running)
        assert len(screen.findings) == len(app.report.findings)


async def test_fix_through_the_dialog_edits_the_file_and_rechecks(checkup_options, wsl_root):
    wslconfig = wsl_root / "mnt/c/Users/alice/.wslconfig"
    before = wslconfig.read_text()
    app = DrDoctorApp(checkup_options)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: app.report is not None and not screen.running)
        assert screen.findings["mem.wsl_limit"].status is Status.WARN
        table = screen.query_one(FindingsTable)

        # declining changes nothing
        await select_row(pilot, table, "mem.wsl_limit")
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, FixPreview))
        body = str(app.screen.query_one("#plan-body", Static).render())
        assert ".wslconfig" in body and "-memory=6GB" in body and "+memory=24GB" in body
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, FixPreview))
        assert wslconfig.read_text() == before

        # accepting applies it, streams the output, and re-runs the checks
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, FixPreview))
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen is screen and not screen.fixing and not screen.running
                         and screen.findings.get("mem.wsl_limit") is not None, timeout=30)
        assert "memory=24GB" in wslconfig.read_text()
        assert list(wslconfig.parent.glob(".wslconfig.drdoctor-*.bak"))
        assert screen.findings["mem.wsl_limit"].status is Status.OK
        log = "\n".join(screen.query_one("#fix-output", Log).lines)
        assert "backup:" in log and "re-checked mem.wsl_limit: warn -> ok" in log

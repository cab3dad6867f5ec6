"""Snapshots of the main screens at 80x24 and 60x20, deterministic: fixture machine, recorded runs, fixed clock zone.

Update after a deliberate change with `pytest tests/tui/test_snapshots.py --snapshot-update`, then look
at the SVGs under __snapshots__/.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from doctor.tui.app import DrDoctorApp
from doctor.tui.options import TuiOptions
from doctor.tui.widgets.findings_table import FindingsTable
from tuitools import replay, select_row, wait_until

DATA = Path(__file__).parent / "data"


@pytest.fixture
def fixed_tz(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def _checkup_ready(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: app.report is not None and not app.screen.running)
    await select_row(pilot, app.screen.query_one(FindingsTable), "mem.wsl_limit")
    await pilot.pause()


def test_checkup_dark(snap_compare, checkup_options):
    assert snap_compare(DrDoctorApp(checkup_options), run_before=_checkup_ready)


def test_checkup_light(snap_compare, checkup_options):
    app = DrDoctorApp(checkup_options)
    app.theme = "textual-light"
    assert snap_compare(app, run_before=_checkup_ready)


def test_fix_dialog(snap_compare, checkup_options):
    async def run_before(pilot):
        await _checkup_ready(pilot)
        await pilot.press("f")
        await wait_until(pilot, lambda: pilot.app.screen.__class__.__name__ == "FixPreview")
        await pilot.pause()

    assert snap_compare(DrDoctorApp(checkup_options), run_before=run_before)


def _steady_cursors(pilot) -> None:
    """Text cursors that do not blink: a snapshot must not depend on the blink's phase."""
    for field in pilot.app.screen.query("Input"):
        field.cursor_blink = False


async def _steady(pilot) -> None:
    _steady_cursors(pilot)
    await pilot.pause()


def _generate_app() -> DrDoctorApp:
    options = TuiOptions(autostart_checkup=False, run_dir=Path("runs"), lyrics="song.lrc", style="pop, piano",
                         out="song.wav", bundle="bundle")
    return DrDoctorApp(options, mode="generate")


def test_generate_form(snap_compare, monkeypatch):
    monkeypatch.chdir(DATA)  # the form shows the relative lyrics path and its parsed preview
    assert snap_compare(_generate_app(), run_before=_steady)


def test_generate_form_refuses_bad_values(snap_compare, monkeypatch):
    monkeypatch.chdir(DATA)

    async def run_before(pilot):
        _steady_cursors(pilot)
        screen = pilot.app.screen
        screen.query_one("#lyrics").value = "missing.lrc"
        screen.query_one("#length").value = "0"
        screen.query_one("#ref-audio").value = "song.lrc"  # a file, but a style text is given too
        await pilot.press("ctrl+r")
        await pilot.pause()

    assert snap_compare(_generate_app(), run_before=run_before)


def test_generate_form_edit_mode(snap_compare, monkeypatch):
    """Edit: the song and spans fields appear; a missing song, a span that does not parse and a batch of 0
    are refused inline."""
    monkeypatch.chdir(DATA)

    async def run_before(pilot):
        _steady_cursors(pilot)
        screen = pilot.app.screen
        screen.query_one("#mode").value = "edit"
        await pilot.pause()
        screen.query_one("#song").value = "take.wav"
        screen.query_one("#spans").value = "10:25, 50-60"
        screen.query_one("#batch").value = "0"
        await pilot.press("ctrl+r")
        await pilot.pause()

    assert snap_compare(_generate_app(), run_before=run_before)


def test_generate_finished_run(snap_compare, monkeypatch):
    monkeypatch.chdir(DATA)

    async def run_before(pilot):
        await replay(pilot, pilot.app.screen, "run-ok")

    assert snap_compare(_generate_app(), run_before=run_before)


def test_generate_running(snap_compare, monkeypatch):
    """Mid-sampling: the sample bar with its steps per second and time left (from the events' clocks)."""
    monkeypatch.chdir(DATA)

    async def run_before(pilot):
        await replay(pilot, pilot.app.screen, "run-ok",
                     until=lambda e: e["type"] == "stage_progress" and e["stage"] == "sample" and e["done"] == 13)

    assert snap_compare(_generate_app(), run_before=run_before)


def test_generate_failed_run(snap_compare, monkeypatch):
    monkeypatch.chdir(DATA)

    async def run_before(pilot):
        await replay(pilot, pilot.app.screen, "run-failed")

    assert snap_compare(_generate_app(), run_before=run_before)


def test_generate_cancelled_run(snap_compare, monkeypatch):
    monkeypatch.chdir(DATA)

    async def run_before(pilot):
        await replay(pilot, pilot.app.screen, "run-cancelled")

    assert snap_compare(_generate_app(), run_before=run_before)


def test_runs(snap_compare, tmp_path, monkeypatch, fixed_tz):
    shutil.copytree(DATA / "recorded", tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    app = DrDoctorApp(TuiOptions(autostart_checkup=False, run_dir=Path("runs")), mode="runs")

    async def run_before(pilot):
        await wait_until(pilot, lambda: pilot.app.screen.records)
        await pilot.pause()

    assert snap_compare(app, run_before=run_before)


def test_help(snap_compare, checkup_options):
    async def run_before(pilot):
        await wait_until(pilot, lambda: pilot.app.report is not None)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(DrDoctorApp(checkup_options), run_before=run_before)


# ---- 60x20: the smallest terminal the app is laid out for

SMALL = (60, 20)


def test_small_checkup(snap_compare, checkup_options):
    assert snap_compare(DrDoctorApp(checkup_options), run_before=_checkup_ready, terminal_size=SMALL)


def test_small_generate_form(snap_compare, monkeypatch):
    monkeypatch.chdir(DATA)
    assert snap_compare(_generate_app(), run_before=_steady, terminal_size=SMALL)


def test_small_generate_running(snap_compare, monkeypatch):
    """The sampling bar's time left stays on screen."""
    monkeypatch.chdir(DATA)

    async def run_before(pilot):
        await replay(pilot, pilot.app.screen, "run-ok",
                     until=lambda e: e["type"] == "stage_progress" and e["stage"] == "sample" and e["done"] == 13)

    assert snap_compare(_generate_app(), run_before=run_before, terminal_size=SMALL)


def test_small_runs(snap_compare, tmp_path, monkeypatch, fixed_tz):
    shutil.copytree(DATA / "recorded", tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    app = DrDoctorApp(TuiOptions(autostart_checkup=False, run_dir=Path("runs")), mode="runs")

    async def run_before(pilot):
        await wait_until(pilot, lambda: pilot.app.screen.records)
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SMALL)

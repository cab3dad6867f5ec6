"""The runs screen: the history read from run folders, and resuming a cancelled run from it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from textual.widgets import DataTable, Static

from doctor.launch import RunnerProcess
from doctor.tui.app import DrDoctorApp
from doctor.tui.options import TuiOptions
from doctor.tui.run_history import list_runs
from doctor.tui.screens.generate import GenerateScreen
from tuitools import select_row, wait_until

RECORDED = Path(__file__).parent / "data" / "recorded"  # run folders (not under a `runs/`: git ignores those)


def test_history_from_recorded_run_folders(tmp_path):
    shutil.copytree(RECORDED, tmp_path / "runs")
    records = {r.run: r for r in list_runs(tmp_path / "runs")}
    assert records["run-ok"].status == "ok" and not records["run-ok"].resumable
    assert records["run-ok"].output and records["run-ok"].length == 10
    assert records["run-cancelled"].status == "cancelled" and records["run-cancelled"].resumable
    assert records["run-failed"].status == "failed" and records["run-failed"].failed_stage == "validate"
    assert [r.run for r in list_runs(tmp_path / "runs")] == ["run-failed", "run-cancelled", "run-ok"]  # newest first


async def test_runs_screen_lists_and_explains(tmp_path):
    shutil.copytree(RECORDED, tmp_path / "runs")
    app = DrDoctorApp(TuiOptions(autostart_checkup=False, run_dir=tmp_path / "runs"), mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 3)
        await select_row(pilot, table, "run-failed")
        detail = str(app.screen.query_one("#run-detail", Static).render())
        assert "failed in validate" in detail and "resumable" in detail


async def test_resume_a_cancelled_run_from_the_history(tmp_path, bundle):
    run_dir = tmp_path / "runs"
    runner = RunnerProcess(sys.executable, ["--bundle", str(bundle), "--style", "pop", "--fault", "slow:0.1",
                                            "--out", str(tmp_path / "song.wav"), "--run-dir", str(run_dir)])
    for event in runner.events():
        if event["type"] == "stage_progress" and event["stage"] == "sample" and event["done"] == 2:
            runner.interrupt()  # once: a second SIGINT stops the runner hard
    assert runner.wait(timeout=60) == 130
    cancelled = list_runs(run_dir)[0]
    assert cancelled.status == "cancelled"

    options = TuiOptions(autostart_checkup=False, run_dir=run_dir, bundle=str(bundle), python=sys.executable)
    app = DrDoctorApp(options, mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 1)
        await select_row(pilot, table, cancelled.run)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, GenerateScreen))
        screen = app.screen
        await wait_until(pilot, lambda: screen.state.done and not screen.running)
        assert screen.state.ok, screen.state.error
        assert (tmp_path / "song.wav").is_file()
        await pilot.press("f4")
        runs = app.screen
        # the resumed run finished in its own folder: the history now says ok, no longer resumable
        await wait_until(pilot, lambda: runs.records.get(cancelled.run) is not None
                         and runs.records[cancelled.run].status == "ok", timeout=10)
        assert not runs.records[cancelled.run].resumable

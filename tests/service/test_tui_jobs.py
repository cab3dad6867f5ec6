"""The TUI's Jobs mode on the real service: the queue, the running job's live stages, cancel."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("textual")

from doctor.service import store
from doctor.tui.app import DrDoctorApp
from doctor.tui.options import TuiOptions


async def _until(pilot, check, timeout: float, what: str):
    for _ in range(int(timeout / 0.1)):
        value = check()
        if value:
            return value
        await pilot.pause(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_jobs_mode_shows_the_running_job_live_and_cancels_it(service):
    added = service.queue("add", "--json", *service.args("--steps", "40", "--fault", "slow:0.2", "--seed", "5001"))
    job_id = json.loads(added.stdout)[0]["job_id"]

    async def scenario() -> None:
        app = DrDoctorApp(TuiOptions(autostart_checkup=False), mode="jobs")
        async with app.run_test(size=(140, 40)) as pilot:
            screen = app.screen
            await _until(pilot, lambda: str(job_id) in screen.jobs and screen.jobs[str(job_id)]["state"] == "running",
                         30, "the job to show as running")
            table = screen.query_one("#jobs-table")
            table.move_cursor(row=table.get_row_index(str(job_id)))
            stages = screen.query_one("#job-stages")
            await _until(pilot, lambda: "sample" in str(stages.render()) and "/39" in str(stages.render()), 30,
                         "live sampling progress")
            assert "done in" in str(stages.render())  # the stages before sampling show as finished
            await pilot.press("c")
            await _until(pilot, lambda: screen.jobs.get(str(job_id), {}).get("state") == "cancelled", 30,
                         "the job to show as cancelled")

    asyncio.run(scenario())
    assert store.get_job(service.url, job_id)["state"] == "cancelled"

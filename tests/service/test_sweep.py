"""Two workers' stall sweeps finding the same dead worker's job at once, on a real Procrastinate database: one
of them ends the job, the other lets it be and goes on (it used to raise, which stopped its worker)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from procrastinate import exceptions as pexc
from procrastinate import jobs

from doctor.service import schema
from doctor.service.store import QUEUE, TASK
from doctor.service.worker import Database, make_app, sweep_stalled, taken_meanwhile


async def _race(url: str) -> tuple[list, list, int, BaseException | None]:
    apps = [make_app(url), make_app(url)]  # two workers: two connection pools
    async with apps[0].open_async(), apps[1].open_async():
        first = apps[0]
        job_id = await first.configure_task(TASK, queue=QUEUE).defer_async(argv=[], request={}, cache_key="k",
                                                                          max_attempts=1)
        dead_worker = await first.job_manager.register_worker()
        job = await first.job_manager.fetch_job(queues=[QUEUE], worker_id=dead_worker)
        assert job is not None and job.id == job_id
        await Database(first).query("INSERT INTO drdoctor_attempts (job_id, attempt, worker, device) "
                                    "VALUES (%(job_id)s, 1, 'dead', 'cpu')", job_id=job_id)
        await Database(first).query("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' "
                                    "WHERE id = %(id)s", id=dead_worker)
        results = await asyncio.gather(*(sweep_stalled(app, Database(app), 3.0) for app in apps))
        refused = None
        try:  # what the losing sweeper met: the job is no longer "doing"
            await first.job_manager.finish_job(job=job, status=jobs.Status.FAILED, delete_job=False)
        except pexc.ConnectorException as exc:
            refused = exc
        return results[0], results[1], job_id, refused


def test_two_sweeps_of_one_stalled_job_end_it_once_and_neither_fails(service, new_database):
    url = new_database("sweeps")
    schema.migrate(url)
    one, two, job_id, refused = asyncio.run(_race(url))
    assert sorted([one, two], key=len) == [[], [(job_id, "dead")]]
    with psycopg.connect(url, autocommit=True) as conn:
        status = conn.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", (job_id,)).fetchone()[0]
        outcome = conn.execute("SELECT outcome FROM drdoctor_jobs WHERE job_id = %s", (job_id,)).fetchone()[0]
    assert (status, outcome) == ("failed", "dead")
    assert refused is not None and taken_meanwhile(refused)  # the text is on the psycopg error it wraps
    with pytest.raises(AssertionError):
        assert 'not in "doing"' in str(refused)  # not on the wrapper: the check before read only that

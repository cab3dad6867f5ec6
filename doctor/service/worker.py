"""A worker for one device: a Procrastinate worker that runs one job at a time and survives the database
going away, plus the sweep that gives a dead worker's job to a live one.

Procrastinate's own worker stops when its heartbeat or listener fails (Postgres restarted), and a job that
finishes while the database is away would lose its outcome. Here every database call of the worker
waits for the database to come back instead, so a restart of Postgres costs a pause, not a job.

Worker death: each worker heartbeats every `heartbeat_s`; a job whose worker has not heartbeated for
`stall_timeout_s` is retried by any live worker (the sweep runs every `heartbeat_s`), resuming from its run
folder; a job whose worker died `max_attempts` times ends as `dead`. A worker that has just seen the
database come back waits one stall timeout before it judges others (their heartbeats were stopped too).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import procrastinate
from procrastinate import exceptions as pexc
from procrastinate import job_context, jobs, retry
from procrastinate import worker as pworker

from doctor.service import outcomes, reaper
from doctor.service.attempt import Requeue, Slot, run_attempt, stop_now
from doctor.service.database import redact
from doctor.service.store import QUEUE, TASK

log = logging.getLogger("drdoctor.worker")

HEARTBEAT_S = 10.0
STALL_TIMEOUT_S = 30.0
DB_GIVE_UP_S = 3600.0  # a worker waits this long for its database before giving up on a write
# Procrastinate prunes workers with old heartbeats when a worker starts (its only use of this timeout);
# right after a database outage every live worker's heartbeat is old, and that prune would orphan their
# running jobs to be started twice. The sweep prunes instead, behind its guard.
NEVER_PRUNE_AT_START_S = 10 * 365 * 24 * 3600.0


class RequeueOnly(retry.BaseRetryStrategy):
    """Procrastinate retries a job only when its worker asked for it (SIGTERM); runner failures are final and
    worker deaths are retried by the stall sweep."""

    def get_retry_decision(self, *, exception: BaseException, job: jobs.Job) -> retry.RetryDecision | None:
        if isinstance(exception, Requeue):
            return retry.RetryDecision(retry_in={"seconds": 0})
        return None


def connection_lost(exc: BaseException) -> bool:
    """The database went away (or is restarting), as opposed to a query it refused."""
    import psycopg
    import psycopg_pool

    cause = exc.__cause__ if isinstance(exc, pexc.ConnectorException) else exc
    return isinstance(cause, (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout, OSError))


def taken_meanwhile(exc: pexc.ConnectorException) -> bool:
    """Procrastinate refused to finish or retry a job that is no longer "doing": another worker's sweep (or a retry)
    changed it first. Its message is on the psycopg error the ConnectorException wraps."""
    text = f"{exc} {exc.__cause__}"
    return 'not in "doing"' in text or "invalid status" in text


class Database:
    """The worker's queries: each one waits for the database when it is away."""

    def __init__(self, app: procrastinate.App):
        self.app = app
        self.ok_since: float | None = time.monotonic()

    def _lost(self, exc: BaseException, what: str) -> None:
        if self.ok_since is not None:
            log.warning("database unreachable (%s): %s; waiting for it", what, redact(str(exc)))
        self.ok_since = None

    def _back(self) -> None:
        if self.ok_since is None:
            log.warning("database reachable again")
            self.ok_since = time.monotonic()

    async def patiently(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + DB_GIVE_UP_S
        while True:
            try:
                result = await call(*args, **kwargs)
            except (pexc.ConnectorException, OSError) as exc:
                if not connection_lost(exc):
                    raise
                self._lost(exc, what)
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
                continue
            self._back()
            return result

    async def query(self, sql: str, **args: Any) -> None:
        await self.patiently("write", self.app.connector.execute_query_async, sql, **args)

    async def query_one(self, sql: str, **args: Any) -> dict[str, Any] | None:
        try:
            return await self.patiently("read", self.app.connector.execute_query_one_async, sql, **args)
        except pexc.NoResult:
            return None


class ServiceWorker(pworker.Worker):
    """Procrastinate's worker with database outages survived and the stall sweep added."""

    def __init__(self, app: procrastinate.App, db: Database, slot: Slot, stall_timeout_s: float, **kwargs: Any):
        super().__init__(app, **kwargs)
        self.db, self.slot, self.stall_timeout_s = db, slot, stall_timeout_s

    async def _update_heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.update_heartbeat_interval)
            assert self.worker_id is not None
            await self.db.patiently("heartbeat", self.app.job_manager.update_heartbeat, self.worker_id)

    async def _listen(self) -> None:
        while True:
            try:
                await self.app.job_manager.listen_for_jobs(on_notification=self._handle_notification,
                                                           queues=self.queues)
            except (pexc.ConnectorException, OSError) as exc:
                if not connection_lost(exc):
                    raise
                self.db._lost(exc, "listen")
                await asyncio.sleep(0.5)
                self._new_job_event.set()  # poll once the listener is back: a job may have come meanwhile

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.update_heartbeat_interval)
            if self.db.ok_since is None or time.monotonic() - self.db.ok_since < self.stall_timeout_s:
                continue
            try:
                await sweep_stalled(self.app, self.db, self.stall_timeout_s)
            except (pexc.ConnectorException, OSError) as exc:
                if not connection_lost(exc):
                    raise
                self.db._lost(exc, "sweep")

    def _start_side_tasks(self) -> list[asyncio.Task[Any]]:
        side = [asyncio.create_task(self._update_heartbeat(), name="update_heartbeats"),
                asyncio.create_task(self._poll_jobs_to_abort(), name="poll_jobs_to_abort"),
                asyncio.create_task(self._sweep(), name="stall_sweep")]
        if self.listen_notify:
            side.append(asyncio.create_task(self._listen(), name="listener"))
        return side

    async def _fetch_and_process_jobs(self) -> None:
        try:
            await super()._fetch_and_process_jobs()
        except (pexc.ConnectorException, OSError) as exc:
            if not connection_lost(exc):
                raise
            self.db._lost(exc, "fetch")
            await asyncio.sleep(0.5)

    async def _persist_job_status(self, **kwargs: Any) -> None:
        try:
            await self.db.patiently("job status", super()._persist_job_status, **kwargs)
        except pexc.ConnectorException as exc:
            if not taken_meanwhile(exc):
                raise
            # a sweep judged this worker dead meanwhile (its heartbeat was stuck behind the outage) and the job
            # went back to the queue: its next attempt decides it; this worker goes on
            job = kwargs["job"]
            self._job_ids_to_abort.pop(job.id, None)
            log.warning("job %s was handed to another worker while this one was away: its status is theirs", job.id)

    async def _shutdown(self, side_tasks: list[asyncio.Task[Any]]) -> None:
        manager = self.app.job_manager
        original = manager.unregister_worker

        async def unregister(worker_id: int) -> None:
            try:
                await asyncio.wait_for(original(worker_id), timeout=5)
            except (pexc.ConnectorException, OSError, asyncio.TimeoutError):
                pass  # its heartbeat stops: the row is pruned later

        manager.unregister_worker = unregister  # type: ignore[method-assign]
        try:
            await super()._shutdown(side_tasks)
        finally:
            manager.unregister_worker = original  # type: ignore[method-assign]


async def sweep_stalled(app: procrastinate.App, db: Database, stall_timeout_s: float) -> list[tuple[int, str]]:
    """Retry the jobs of workers that stopped heartbeating; past their attempts they end as dead."""
    done = []
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stall_timeout_s, task_name=TASK):
        assert job.id is not None
        await db.query("UPDATE drdoctor_attempts SET outcome = %(died)s, finished_at = now() "
                       "WHERE job_id = %(job_id)s AND outcome IS NULL", died=outcomes.DIED, job_id=job.id)
        row = await db.query_one("SELECT count(*) AS n FROM drdoctor_attempts WHERE job_id = %(job_id)s "
                                 "AND outcome = %(died)s", job_id=job.id, died=outcomes.DIED)
        died = int(row["n"]) if row else 0
        limit = int(job.task_kwargs.get("max_attempts") or 3)
        try:
            if died >= limit:
                await app.job_manager.finish_job(job=job, status=jobs.Status.FAILED, delete_job=False)
                await db.query(
                    "INSERT INTO drdoctor_jobs (job_id, cache_key, outcome, message, finished_at) "
                    "VALUES (%(job_id)s, %(key)s, %(dead)s, %(message)s, now()) ON CONFLICT (job_id) DO UPDATE "
                    "SET outcome = EXCLUDED.outcome, message = EXCLUDED.message, finished_at = now()",
                    job_id=job.id, key=job.task_kwargs.get("cache_key", ""), dead=outcomes.DEAD,
                    message=f"its worker died {died} times (the limit is {limit})")
                done.append((job.id, outcomes.DEAD))
            else:
                await app.job_manager.retry_job(job)
                done.append((job.id, "retried"))
        except pexc.ConnectorException as exc:
            if not taken_meanwhile(exc):
                raise
            continue  # another worker's sweep got there first
        log.warning("job %s: worker %s stopped heartbeating -> %s", job.id, job.worker_id, done[-1][1] if done else "-")
    await app.job_manager.prune_stalled_workers(stall_timeout_s)  # their jobs are requeued: forget them
    return done


def make_app(url: str, slot: Slot | None = None, db_holder: list[Database] | None = None) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=4))

    @app.task(name=TASK, queue=QUEUE, pass_context=True, retry=RequeueOnly())
    async def generate(context: job_context.JobContext, **args: Any) -> dict[str, Any]:
        assert slot is not None and db_holder, "a job runs only in a worker"
        db = db_holder[0]
        assert context.job.id is not None
        return await run_attempt(slot, db.query, db.query_one, context.job.id, args)

    return app


def start_reaper(grace_s: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "doctor.service.reaper", "--grace", f"{grace_s:g}"],
                            stdin=subprocess.PIPE, text=True, start_new_session=True)


async def serve_forever(url: str, slot: Slot, heartbeat_s: float = HEARTBEAT_S,
                        stall_timeout_s: float = STALL_TIMEOUT_S, poll_s: float = 1.0) -> int:
    """Run jobs until SIGTERM/SIGINT: the first finishes the current step and requeues the job; a second
    stops now (the job is then retried by the stall sweep of another worker)."""
    holder: list[Database] = []
    app = make_app(url, slot, holder)
    # a container's launcher stops its container within its stop timeout: the reaper must not kill it sooner
    slot.reaper = start_reaper(reaper.GRACE_S + (slot.container.stop_timeout_s if slot.container else 0.0))
    loop = asyncio.get_running_loop()
    async with app.open_async():
        db = Database(app)
        holder.append(db)
        worker = ServiceWorker(app, db, slot, stall_timeout_s, queues=[QUEUE], name=slot.worker, concurrency=1,
                               install_signal_handlers=False, update_heartbeat_interval=heartbeat_s,
                               stalled_worker_timeout=NEVER_PRUNE_AT_START_S, fetch_job_polling_interval=poll_s,
                               abort_job_polling_interval=poll_s)
        stops = 0

        def on_stop(*_: Any) -> None:
            nonlocal stops
            stops += 1
            if stops == 1:
                log.warning("stopping: the running job stops at its next step and goes back to the queue")
                slot.draining = True
                with slot.lock:
                    if slot.runner is not None:
                        slot.runner.interrupt()
                worker.stop()
            else:
                log.warning("stopping now")
                with slot.lock:
                    if slot.runner is not None:
                        stop_now(slot, slot.runner)
                slot.tell_reaper("bye")
                os._exit(143)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_stop)
        await db.patiently("worker", worker.run)  # starting needs the database: wait for it
    slot.tell_reaper("bye")
    return 0


def worker_name(device: str) -> str:
    return f"{socket.gethostname()}/{device}/{os.getpid()}"

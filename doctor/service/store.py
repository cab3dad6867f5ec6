"""Reading and changing jobs from the CLI, the HTTP API and the TUI (short, synchronous transactions).

A job is a Procrastinate job (`procrastinate_jobs`: status, attempts, locks, the request in its args)
plus drdoctor's rows: its result (`drdoctor_jobs`), its attempts and its runner events.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from doctor.service import outcomes
from doctor.service.database import redact

TASK = "drdoctor.generate"
QUEUE = "songs"
_apps: dict[str, Any] = {}
_apps_lock = threading.Lock()


class StoreError(Exception):
    """The database could not answer; the message never holds its password."""


def connect(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5, row_factory=dict_row)
    except psycopg.Error as exc:
        raise StoreError(f"cannot reach the job database {redact(url)}: {redact(str(exc).strip())}") from None


def instance(url: str) -> str:
    """The database's instance id (schema.INSTANCE): part of every job folder's path."""
    with connect(url) as conn:
        row = conn.execute("SELECT version FROM drdoctor_schema WHERE name = 'instance'").fetchone()
    return row["version"] if row else ""


def job_dir(url: str, config: dict[str, Any], job_id: int) -> Path:
    from doctor.service import folders

    return folders.job_dir(config, job_id, instance(url))


def procrastinate_app(url: str) -> Any:
    """One opened (synchronous) Procrastinate app per database URL, for deferring and cancelling."""
    with _apps_lock:
        if url not in _apps:
            import procrastinate

            app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=4))
            app.open()
            _apps[url] = app
        return _apps[url]


def defer(url: str, args: dict[str, Any], key: str, priority: int = 0) -> tuple[int, bool]:
    """Queue one job; an equal job already waiting (same queueing lock) is answered with its id instead."""
    from procrastinate import exceptions

    app = procrastinate_app(url)
    try:
        job_id = app.configure_task(TASK, queue=QUEUE, lock=key, queueing_lock=key, priority=priority).defer(**args)
    except exceptions.AlreadyEnqueued:
        with connect(url) as conn:
            row = conn.execute("SELECT id FROM procrastinate_jobs WHERE queueing_lock = %s AND status = 'todo'",
                               (key,)).fetchone()
        if row is None:  # it started in between: queue ours behind it (the lock keeps them apart)
            return defer(url, args, key, priority)
        return int(row["id"]), True
    return int(job_id), False


def cached_job(url: str, key: str) -> int | None:
    """A finished job with this cache key whose song is still there."""
    with connect(url) as conn:
        rows = conn.execute("SELECT job_id, output FROM drdoctor_jobs WHERE cache_key = %s AND outcome = 'succeeded' "
                            "ORDER BY finished_at DESC LIMIT 5", (key,)).fetchall()
    for row in rows:
        if row["output"] and os.path.isfile(row["output"]):
            return int(row["job_id"])
    return None


JOB_COLUMNS = """
    j.id, j.status, j.attempts, j.queue_name, j.args, j.queueing_lock, j.abort_requested,
    r.outcome, r.exit_code, r.output, r.message, r.cached_from, r.finished_at,
    (SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'deferred') AS created_at,
    (SELECT a.worker FROM drdoctor_attempts a WHERE a.job_id = j.id ORDER BY a.attempt DESC LIMIT 1) AS worker,
    (SELECT a.device FROM drdoctor_attempts a WHERE a.job_id = j.id ORDER BY a.attempt DESC LIMIT 1) AS device,
    (SELECT a.run_dir FROM drdoctor_attempts a WHERE a.job_id = j.id ORDER BY a.attempt DESC LIMIT 1) AS run_dir,
    (SELECT count(*) FROM drdoctor_attempts a WHERE a.job_id = j.id) AS runs
"""


def state_of(row: dict[str, Any]) -> str:
    """What a person calls the job's state: its outcome once final, else queued / running / cancelling."""
    if row.get("outcome"):
        return str(row["outcome"])
    status = row["status"]
    if status == "doing":
        return "cancelling" if row.get("abort_requested") else "running"
    return {"todo": "queued", "aborting": "cancelling", "aborted": "cancelled"}.get(status, status)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    args = row.get("args") or {}
    request = args.get("request") or {}
    return {
        "id": row["id"], "state": state_of(row), "status": row["status"], "attempts": row["runs"],
        "seed": request.get("seed"), "style": request.get("style"), "length": request.get("length"),
        "steps": request.get("steps"), "bundle": bool(request.get("bundle")),
        "exit_code": row["exit_code"], "output": row["output"], "message": row["message"],
        "cached_from": row["cached_from"], "worker": row["worker"], "device": row["device"],
        "run_dir": row["run_dir"], "retry_of": args.get("retry_of"),
        "created_at": row["created_at"].isoformat() if row["created_at"] else None,
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
    }


def list_jobs(url: str, limit: int = 50, states: set[str] | None = None) -> list[dict[str, Any]]:
    with connect(url) as conn:
        rows = conn.execute(f"SELECT {JOB_COLUMNS} FROM procrastinate_jobs j LEFT JOIN drdoctor_jobs r "
                            "ON r.job_id = j.id WHERE j.task_name = %s ORDER BY j.id DESC LIMIT %s",
                            (TASK, limit)).fetchall()
    jobs = [_public(r) for r in rows]
    return [j for j in jobs if not states or j["state"] in states]


def get_job(url: str, job_id: int, with_request: bool = False) -> dict[str, Any] | None:
    with connect(url) as conn:
        row = conn.execute(f"SELECT {JOB_COLUMNS} FROM procrastinate_jobs j LEFT JOIN drdoctor_jobs r "
                           "ON r.job_id = j.id WHERE j.id = %s AND j.task_name = %s", (job_id, TASK)).fetchone()
        if row is None:
            return None
        job = _public(row)
        if with_request:
            job["request"] = row["args"].get("request")
            job["argv"] = row["args"].get("argv")
            job["attempt_rows"] = [
                {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in a.items()}
                for a in conn.execute("SELECT * FROM drdoctor_attempts WHERE job_id = %s ORDER BY attempt",
                                      (job_id,)).fetchall()]
    return job


def events(url: str, job_id: int, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
    """The job's runner events in arrival order, each with its `id` (for server-sent events' Last-Event-ID)."""
    with connect(url) as conn:
        rows = conn.execute("SELECT id, attempt, event FROM drdoctor_events WHERE job_id = %s AND id > %s "
                            "ORDER BY id LIMIT %s", (job_id, after, limit)).fetchall()
    return [{"id": r["id"], "attempt": r["attempt"], "event": r["event"]} for r in rows]


def follow(url: str, job_id: int, after: int = 0, poll: float = 0.2) -> Iterator[dict[str, Any]]:
    """Every event from `after` on, then new ones as they arrive, until the job is final."""
    import time

    while True:
        batch = events(url, job_id, after)
        yield from batch
        if batch:
            after = batch[-1]["id"]
            continue
        job = get_job(url, job_id)
        if job is None or job["state"] in outcomes.FINAL:
            rest = events(url, job_id, after)
            yield from rest
            return
        time.sleep(poll)


def cancel(url: str, job_id: int) -> bool:
    """A queued job is cancelled at once; a running one is asked to stop (its runner gets SIGINT)."""
    app = procrastinate_app(url)
    return bool(app.job_manager.cancel_job_by_id(job_id, abort=True))


def retry(url: str, job_id: int) -> int:
    """A new job with the same request that resumes from the old job's run folder when it has one."""
    job = get_job(url, job_id, with_request=True)
    if job is None:
        raise StoreError(f"no job {job_id}")
    if job["state"] not in outcomes.FINAL or job["state"] in ("succeeded", outcomes.CACHED):
        raise StoreError(f"job {job_id} is {job['state']}: only a job that ended without a song can be retried")
    with connect(url) as conn:
        row = conn.execute("SELECT args FROM procrastinate_jobs WHERE id = %s", (job_id,)).fetchone()
    args = dict(row["args"])
    args["retry_of"] = job_id
    args["resume_from"] = job["run_dir"] if job["run_dir"] and Path(job["run_dir"], "request.json").exists() else None
    new_id, _ = defer(url, args, args["cache_key"])
    return new_id


def stats(url: str) -> dict[str, Any]:
    """Success and failure rates, and the median seconds per sampling step by worker and device."""
    with connect(url) as conn:
        outcomes_rows = conn.execute("SELECT coalesce(r.outcome, j.status::text) AS state, count(*) AS n "
                                     "FROM procrastinate_jobs j LEFT JOIN drdoctor_jobs r ON r.job_id = j.id "
                                     "WHERE j.task_name = %s GROUP BY 1 ORDER BY 2 DESC", (TASK,)).fetchall()
        steps = conn.execute(
            "SELECT worker, device, count(*) AS runs, "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY sample_seconds / sample_steps) AS median_step_s "
            "FROM drdoctor_attempts WHERE sample_steps > 0 GROUP BY worker, device ORDER BY worker, device").fetchall()
    counts = {r["state"]: r["n"] for r in outcomes_rows}
    finished = sum(n for s, n in counts.items() if s in outcomes.FINAL)
    ok = counts.get("succeeded", 0) + counts.get(outcomes.CACHED, 0)
    return {
        "jobs": counts, "finished": finished,
        "success_rate": round(ok / finished, 4) if finished else None,
        "failure_rate": round((finished - ok) / finished, 4) if finished else None,
        "per_worker": [dict(r) for r in steps],
    }


def to_json(value: Any) -> str:
    return json.dumps(value, default=str)

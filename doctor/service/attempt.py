"""One attempt of one job: launch the runner exactly as `drdoctor generate` does, store its events in the
database as they arrive, and turn its exit code into the job's outcome (doctor/service/outcomes.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doctor.commands.generate import runner_args
from doctor.launch import LaunchError, RunnerProcess, diagnose_no_events
from doctor.service import folders, outcomes
from doctor.service.database import ENV_URL, redact
from runner.events import ExitCode, decode

DB_RETRY_S = 0.5
HARD_KILL_GRACE_S = 30.0  # past the runner's own --timeout, the worker kills it
DEFAULT_JOB_TIMEOUT_S = 3600.0

Query = Callable[..., Awaitable[Any]]


class Requeue(Exception):
    """The worker was told to stop: the runner stopped at a step boundary and the job goes back to the queue."""


class JobFailed(Exception):
    """The run ended without a song; the outcome is already stored."""


@dataclass(frozen=True)
class ContainerRoute:
    """Runs in the container: each attempt is `drdoctor container run generate`, the command a user runs (its
    mounts, image checks, events with host paths, exit codes, and its stop: SIGINT to the runner, then a kill
    after `stop_timeout_s`). Image and model folder default as that command's do (`[container]` in the config)."""
    image: str | None = None
    docker_host: str | None = None
    stop_timeout_s: float = 10.0

    def command(self, job_dir: Path, gpu: str | None) -> list[str]:
        """`gpu`: "" = no GPU request (--cpu), "N" = GPU N only, None = every GPU."""
        argv = ["container", "run", "generate", "--json", "--host-paths", "--output", str(job_dir),
                "--stop-timeout", f"{self.stop_timeout_s:g}"]
        argv += ["--image", self.image] if self.image else []
        argv += ["--docker-host", self.docker_host] if self.docker_host else []
        return argv + (["--cpu"] if gpu == "" else ["--gpu", gpu] if gpu else [])


@dataclass
class Slot:
    """What a worker runs on: its name, the device label, the CUDA_VISIBLE_DEVICES it gives the runner (in the
    container: the one GPU the engine hands it) and where the runner runs (here, or the container)."""
    worker: str
    device: str
    cuda_visible: str | None  # None: leave the variable as it is
    python: str
    config: dict[str, Any]
    container: ContainerRoute | None = None
    draining: bool = False
    runner: RunnerProcess | None = None
    reaper: Any = None  # a subprocess.Popen of doctor.service.reaper
    lock: threading.Lock = field(default_factory=threading.Lock)

    def tell_reaper(self, line: str) -> None:
        if self.reaper is not None and self.reaper.stdin is not None:
            try:
                self.reaper.stdin.write(line + "\n")
                self.reaper.stdin.flush()
            except (BrokenPipeError, OSError):
                pass


def _timeout(request: dict[str, Any], config: dict[str, Any]) -> float:
    return float(request.get("timeout") or folders.setting(config, "job_timeout_s", DEFAULT_JOB_TIMEOUT_S))


def build_argv(slot: Slot, argv: list[str], request: dict[str, Any], job_dir: Path,
               resume: Path | None) -> list[str]:
    """The runner's arguments: generate's own builder for a new run; `--resume RUN_DIR` for a run folder
    an earlier attempt left (its saved request is the job's; only the output and timeout are ours). In the
    container they follow `drdoctor container run generate`'s own options (the image has its checkout)."""
    out = str(job_dir / "song.wav")
    timeout = ["--timeout", str(_timeout(request, slot.config))]
    launcher = [] if slot.container is None else slot.container.command(job_dir, slot.cuda_visible)
    if resume is not None:
        return launcher + ["--resume", str(resume), "--out", out, *timeout]
    has_timeout = any(a == "--timeout" or a.startswith("--timeout=") for a in argv)
    request_argv = argv if slot.container is not None else runner_args(argv, slot.config)
    return launcher + request_argv + ["--run-dir", str(job_dir / "runs"), "--out", out] + \
        ([] if has_timeout else timeout)


def launch(slot: Slot, argv: list[str], job_dir: Path) -> RunnerProcess:
    """The runner as `drdoctor generate` starts it, or `drdoctor container run generate` as a user runs it."""
    env = {k: v for k, v in os.environ.items() if k != ENV_URL}  # the runner has no business with the database
    if slot.container is not None:  # the engine hands the container its GPU; the host process needs none
        return RunnerProcess(sys.executable, argv, cwd=str(job_dir), env=env, module="doctor")
    if slot.cuda_visible is not None:
        env["CUDA_VISIBLE_DEVICES"] = slot.cuda_visible
    return RunnerProcess(slot.python, argv, cwd=str(job_dir), env=env)


class EventSink:
    """Events from the runner's reader thread into `drdoctor_events`, in order, batched while the database
    is slow or away (they are kept and written once it answers again)."""

    def __init__(self, query: Query, job_id: int, attempt: int, loop: asyncio.AbstractEventLoop):
        self.query, self.job_id, self.attempt, self.loop = query, job_id, attempt, loop
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.seq = 0
        self.written = 0
        self.task = loop.create_task(self._write())

    def put_threadsafe(self, event: dict[str, Any] | None) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, event)

    async def _write(self) -> None:
        done = False
        while not done:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            if batch[-1] is None:
                done = True
            batch = [e for e in batch if e is not None]
            if not batch:
                continue
            rows = []
            for event in batch:
                self.seq += 1
                rows.append({"seq": self.seq, "event": event})
            await self.query(
                "INSERT INTO drdoctor_events (job_id, attempt, seq, event) "
                "SELECT %(job_id)s, %(attempt)s, (r->>'seq')::int, r->'event' "
                "FROM jsonb_array_elements(%(rows)s::jsonb) WITH ORDINALITY AS x(r, n) ORDER BY n "
                "ON CONFLICT DO NOTHING",
                job_id=self.job_id, attempt=self.attempt, rows=json.dumps(rows))
            self.written += len(rows)
            started = [e for e in batch if e.get("type") == "run_started" and e.get("folder")]
            if started:  # known at once, so a retry after this worker's death finds the folder
                await self.query("UPDATE drdoctor_attempts SET run_dir = %(run_dir)s WHERE job_id = %(job_id)s "
                                 "AND attempt = %(attempt)s", run_dir=started[-1]["folder"], job_id=self.job_id,
                                 attempt=self.attempt)

    async def close(self) -> None:
        self.queue.put_nowait(None)
        await self.task


@dataclass
class Watch:
    """What the attempt learns from the events it passes on."""
    finished: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    run_dir: str | None = None
    sample_steps: int | None = None
    sample_seconds: float | None = None

    def see(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "run_started":
            self.run_dir = event.get("folder")
        elif kind == "stage_started" and event.get("stage") == "sample":
            self.sample_steps = event.get("total")
        elif kind == "stage_finished" and event.get("stage") == "sample":
            self.sample_seconds = event.get("seconds")
        elif kind == "error":
            self.error = event
        elif kind == "run_finished":
            self.finished = event


async def run_attempt(slot: Slot, query: Query, query_one: Query, job_id: int, args: dict[str, Any]) -> dict[str, Any]:
    """Run the job once; returns its result or raises Requeue / JobFailed / CancelledError."""
    config = slot.config
    known = await query_one("SELECT version FROM drdoctor_schema WHERE name = 'instance'")
    job_dir = folders.job_dir(config, job_id, known["version"] if known else "")
    job_dir.mkdir(parents=True, exist_ok=True)
    key = args["cache_key"]
    await query("INSERT INTO drdoctor_jobs (job_id, cache_key) VALUES (%(job_id)s, %(key)s) "
                "ON CONFLICT (job_id) DO NOTHING", job_id=job_id, key=key)
    row = await query_one(
        "INSERT INTO drdoctor_attempts (job_id, attempt, worker, device) VALUES (%(job_id)s, "
        "coalesce((SELECT max(attempt) FROM drdoctor_attempts WHERE job_id = %(job_id)s), 0) + 1, "
        "%(worker)s, %(device)s) RETURNING attempt", job_id=job_id, worker=slot.worker, device=slot.device)
    attempt = int(row["attempt"])

    hit = await query_one(
        "SELECT job_id, output FROM drdoctor_jobs WHERE cache_key = %(key)s AND outcome = 'succeeded' "
        "AND job_id <> %(job_id)s ORDER BY finished_at DESC LIMIT 1", key=key, job_id=job_id)
    if hit and hit["job_id"] is not None and hit["output"] and os.path.isfile(hit["output"]):
        await _finish(query, job_id, attempt, outcomes.CACHED, 0, hit["output"], None, cached_from=hit["job_id"])
        return {"outcome": outcomes.CACHED, "output": hit["output"], "cached_from": hit["job_id"]}

    resume = folders.latest_run(job_dir / "runs")
    if resume is None and args.get("resume_from") and Path(args["resume_from"], folders.RUN_REQUEST).is_file():
        resume = Path(args["resume_from"])
    if resume is not None:
        await backfill_events(query, query_one, job_id, attempt, resume)
    argv = build_argv(slot, list(args["argv"]), args["request"], job_dir, resume)
    loop = asyncio.get_running_loop()
    sink = EventSink(query, job_id, attempt, loop)
    watch = Watch()
    try:
        with slot.lock:
            runner = launch(slot, argv, job_dir)
            slot.runner = runner
    except LaunchError as exc:
        await sink.close()
        message = f"{exc}; what to do: run `drdoctor check` (is [diffrhythm] python right?)"
        await _finish(query, job_id, attempt, "environment", int(ExitCode.ENVIRONMENT), None, message)
        raise JobFailed(message) from exc
    slot.tell_reaper(f"+{runner.proc.pid}")
    await query("UPDATE drdoctor_attempts SET runner_pid = %(pid)s, resumed_from = %(resumed)s "
                "WHERE job_id = %(job_id)s AND attempt = %(attempt)s",
                pid=runner.proc.pid, resumed=str(resume) if resume else None, job_id=job_id, attempt=attempt)

    def read() -> None:
        for event in runner.events():
            watch.see(event)
            sink.put_threadsafe(event)

    reader = loop.run_in_executor(None, read)
    limit = _timeout(args["request"], config) + HARD_KILL_GRACE_S
    cancelled = overdue = False
    try:
        try:
            await asyncio.wait_for(asyncio.shield(reader), timeout=limit)
        except asyncio.TimeoutError:
            overdue = True  # the runner did not stop at its own --timeout: it is stuck
            await _kill(slot, runner)
            await reader
    except asyncio.CancelledError:
        cancelled = True  # `queue cancel`: the runner stops at its next step boundary
        runner.interrupt()
        await _until_done(reader, slot, runner)
    code = await loop.run_in_executor(None, runner.wait)
    slot.tell_reaper(f"-{runner.proc.pid}")
    with slot.lock:
        slot.runner = None
    await sink.close()

    run_dir = watch.run_dir or (str(resume) if resume else None)
    await query("UPDATE drdoctor_attempts SET run_dir = %(run_dir)s, sample_seconds = %(s)s, sample_steps = %(n)s "
                "WHERE job_id = %(job_id)s AND attempt = %(attempt)s", run_dir=run_dir, s=watch.sample_seconds,
                n=watch.sample_steps, job_id=job_id, attempt=attempt)
    if overdue:
        code, message = int(ExitCode.TIMED_OUT), f"killed {limit:g} s after it started: it did not stop at its --timeout"
    elif watch.finished is None:
        code, message, remedy = diagnose_no_events(code, list(runner.stderr_tail))
        message = f"{message}; what to do: {remedy}"
    else:
        code = int(watch.finished.get("exit_code", code))
        message = None if code == 0 else _message(watch.error, runner)
    if code == int(ExitCode.CANCELLED) and slot.draining and not cancelled:
        await _finish_attempt(query, job_id, attempt, outcomes.REQUEUED, code)
        raise Requeue(f"job {job_id}: worker {slot.worker} stopping; requeued to resume from {run_dir}")
    outcome = outcomes.outcome_for(code)
    output = watch.finished.get("output") if watch.finished and code == 0 else None
    if output and not _inside(Path(output), job_dir):
        output, outcome, message = None, "failed", f"the runner wrote its song outside the job folder: {output}"
    await _finish(query, job_id, attempt, outcome, code, output, message)
    if cancelled and outcome == "cancelled":
        raise asyncio.CancelledError()
    if outcome != "succeeded":
        raise JobFailed(f"job {job_id}: {outcome} (exit {code}): {message}")
    return {"outcome": outcome, "output": output, "events": sink.written}


async def backfill_events(query: Query, query_one: Query, job_id: int, attempt: int, folder: Path) -> int:
    """Events a dead worker read from its runner but never stored are still in the run folder's
    events.ndjson (the runner writes every event there too): store them under that worker's attempt."""
    row = await query_one(
        "SELECT max(attempt) AS last, (SELECT count(*) FROM drdoctor_events e WHERE e.job_id = %(job_id)s AND "
        "e.attempt IN (SELECT attempt FROM drdoctor_attempts WHERE job_id = %(job_id)s AND run_dir = %(dir)s)) AS n "
        "FROM drdoctor_attempts WHERE job_id = %(job_id)s AND run_dir = %(dir)s AND attempt < %(attempt)s",
        job_id=job_id, dir=str(folder), attempt=attempt)
    if not row or row["last"] is None:
        return 0
    try:
        lines = (folder / "events.ndjson").read_bytes().splitlines()
    except OSError:
        return 0
    missing = [e for e in (decode(line) for line in lines[int(row["n"]):]) if e is not None]
    if missing:
        seq = await query_one("SELECT coalesce(max(seq), 0) AS s FROM drdoctor_events WHERE job_id = %(job_id)s "
                              "AND attempt = %(last)s", job_id=job_id, last=row["last"])
        start = int(seq["s"]) if seq else 0
        rows = [{"seq": start + k + 1, "event": e} for k, e in enumerate(missing)]
        await query("INSERT INTO drdoctor_events (job_id, attempt, seq, event) "
                    "SELECT %(job_id)s, %(attempt)s, (r->>'seq')::int, r->'event' "
                    "FROM jsonb_array_elements(%(rows)s::jsonb) WITH ORDINALITY AS x(r, n) ORDER BY n "
                    "ON CONFLICT DO NOTHING",
                    job_id=job_id, attempt=row["last"], rows=json.dumps(rows))
    return len(missing)


def _message(error: dict[str, Any] | None, runner: RunnerProcess) -> str:
    if error:
        text = f"{error.get('stage')}: {error.get('message')}"
        if error.get("remedy"):
            text += f"; what to do: {error['remedy']}"
        return redact(text)
    return redact("; ".join(list(runner.stderr_tail)[-3:]) or "no error event")


def _inside(path: Path, folder: Path) -> bool:
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))
    except OSError:
        return False


def stop_now(slot: Slot, runner: RunnerProcess) -> None:
    """Stop the runner at once. In the container: a second SIGINT, on which `container run` kills and removes
    its container (a SIGKILL to it would leave the container running); past its stop timeout, the SIGKILL."""
    if slot.container is not None:
        runner.interrupt()
        time.sleep(0.2)  # two signals at once may reach it as one
        runner.interrupt()
        try:
            runner.proc.wait(timeout=slot.container.stop_timeout_s)
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(runner.proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _kill(slot: Slot, runner: RunnerProcess) -> None:
    await asyncio.get_running_loop().run_in_executor(None, stop_now, slot, runner)


async def _until_done(reader: asyncio.Future, slot: Slot, runner: RunnerProcess, grace: float = 30.0) -> None:
    """Wait for a runner asked to stop; a second cancellation or the grace period kills it."""
    try:
        await asyncio.wait_for(asyncio.shield(reader), timeout=grace)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        await _kill(slot, runner)
        await reader


async def _finish_attempt(query: Query, job_id: int, attempt: int, outcome: str, code: int | None) -> None:
    await query("UPDATE drdoctor_attempts SET finished_at = now(), outcome = %(outcome)s, exit_code = %(code)s "
                "WHERE job_id = %(job_id)s AND attempt = %(attempt)s",
                outcome=outcome, code=code, job_id=job_id, attempt=attempt)


async def _finish(query: Query, job_id: int, attempt: int, outcome: str, code: int, output: str | None,
                  message: str | None, cached_from: int | None = None) -> None:
    await _finish_attempt(query, job_id, attempt, outcome, code)
    await query("UPDATE drdoctor_jobs SET outcome = %(outcome)s, exit_code = %(code)s, output = %(output)s, "
                "message = %(message)s, cached_from = %(cached_from)s, finished_at = now() "
                "WHERE job_id = %(job_id)s", outcome=outcome, code=code, output=output, message=message,
                cached_from=cached_from, job_id=job_id)

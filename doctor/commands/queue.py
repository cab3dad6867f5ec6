"""`drdoctor queue`: song jobs in the job database (Postgres through Procrastinate).

  queue add [--count N] [--attempts N] GENERATE-OPTIONS...   queue jobs (seeds s, s+1, ...)
  queue list [--state S] [--limit N] | show ID | cancel ID | retry ID | stats | doctor | migrate | stop-db
Every sub-command takes --database-url URL (else DRDOCTOR_DATABASE_URL, the config's [service]
database_url, or drdoctor's own embedded Postgres) and --json.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from doctor import config as config_mod
from doctor.commands.generate import GENERATE_HELP
from runner.errors import BadInput, RunError
from runner.events import ExitCode
from runner.request import add_request_arguments

SUBCOMMANDS = ("add", "list", "show", "cancel", "retry", "stats", "doctor", "migrate", "stop-db")


def _parser(with_runner_options: bool = False) -> argparse.ArgumentParser:
    """The queue's own options; with the runner's (the one definition, as `drdoctor generate` shows them) for --help."""
    p = argparse.ArgumentParser(prog="drdoctor queue", description=__doc__, allow_abbrev=False, add_help=False,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    p.add_argument("command", nargs="?", choices=SUBCOMMANDS)
    p.add_argument("--database-url", help="Postgres URL (default: DRDOCTOR_DATABASE_URL, config, embedded)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--count", type=int, default=1, help="add: N jobs with seeds s, s+1, ... (default 1)")
    p.add_argument("--attempts", type=int, default=3, help="add: times a job is retried after its worker died")
    p.add_argument("--no-cache", action="store_true", help="add: generate even when an equal job finished")
    p.add_argument("--state", action="append", help="list: only jobs in this state (repeatable)")
    p.add_argument("--limit", type=int, default=50, help="list: at most N jobs (default 50)")
    if with_runner_options:
        from doctor.service.submit import OWNED_BY_SERVICE

        hidden = {option: argparse.SUPPRESS for option in OWNED_BY_SERVICE}  # each job writes into its own folder
        add_request_arguments(p.add_argument_group("queue add: the options of `drdoctor generate`"),
                              {**GENERATE_HELP, **hidden})
    return p


def _fail(message: str, code: int) -> int:
    print(f"drdoctor queue: {message}", file=sys.stderr)
    return code


def _print(ns: argparse.Namespace, value: Any, text: str) -> None:
    print(json.dumps(value, indent=1, default=str) if ns.json else text)


def _job_id(rest: list[str]) -> int:
    if len(rest) != 1 or not rest[0].isdigit():
        raise BadInput(f"expected one job id, got {' '.join(rest) or 'nothing'}", "see `drdoctor queue list`")
    return int(rest[0])


def main(argv: list[str]) -> int:
    ns, rest = _parser().parse_known_args(argv)
    if ns.help or ns.command is None:
        _parser(with_runner_options=True).print_help(sys.stdout if ns.help else sys.stderr)
        return 0 if ns.help else int(ExitCode.BAD_INPUT)
    try:
        config = config_mod.load()
    except config_mod.ConfigError as exc:
        return _fail(str(exc), int(ExitCode.BAD_INPUT))
    from doctor.service import schema, store
    from doctor.service.database import (
        DatabaseError,
        embedded_folder,
        resolve,
        stop_embedded,
    )

    if ns.command == "doctor":
        return _doctor(ns, config)
    if ns.command == "migrate":
        return _migrate(ns, config)
    if ns.command == "stop-db":
        database = resolve(ns.database_url, config)
        if not database.embedded:
            return _fail(f"the job database is {database.shown} ({database.source}), not drdoctor's own", 2)
        stopped = stop_embedded(embedded_folder())
        print("stopped the embedded Postgres" if stopped else "the embedded Postgres was not running")
        return 0
    try:
        if ns.command == "add":  # refuse a bad request before touching the database
            from doctor.service import submit

            submit.requests(list(rest), ns.count, config=config)
        url = schema.ready_url(ns.database_url, config)
        return _run(ns, rest, url, store, config)
    except RunError as exc:  # a bad request (2), or no model folder here (3): the runner's message
        return _fail(f"{exc.message}\n  what to do: {exc.remedy}", int(exc.code))
    except (DatabaseError, store.StoreError) as exc:
        return _fail(str(exc), int(ExitCode.ENVIRONMENT))


def _run(ns: argparse.Namespace, rest: list[str], url: str, store: Any, config: dict[str, Any]) -> int:
    if ns.command == "add":
        from doctor.service import submit

        done = submit.submit(url, list(rest), ns.count, attempts=ns.attempts, use_cache=not ns.no_cache,
                             config=config)
        lines = [f"job {s.job_id}  seed {s.seed}  " + ("cached: an equal job finished" if s.cached else
                 "already queued (an equal job)" if s.existing else "queued") for s in done]
        _print(ns, [s.__dict__ for s in done], "\n".join(lines))
        return 0
    if ns.command == "list":
        jobs = store.list_jobs(url, ns.limit, set(ns.state) if ns.state else None)
        header = f"{'id':>6}  {'state':<11} {'tries':>5}  {'seed':>10}  {'worker':<28} output / message"
        lines = [header] + [
            f"{j['id']:>6}  {j['state']:<11} {j['attempts']:>5}  {j['seed']!s:>10}  {j['worker'] or '-'!s:<28} "
            f"{j['output'] or j['message'] or ''}" for j in jobs]
        _print(ns, jobs, "\n".join(lines))
        return 0
    if ns.command == "stats":
        stats = store.stats(url)
        rates = (f"success rate: {stats['success_rate']}  failure rate: {stats['failure_rate']} "
                 f"(of {stats['finished']} finished)")
        lines = [f"jobs: {stats['jobs']}", rates]
        lines += [f"  {r['worker']} on {r['device']}: {r['runs']} runs, median "
                  f"{r['median_step_s']:.4f} s per sampling step" for r in stats["per_worker"]]
        _print(ns, stats, "\n".join(lines))
        return 0
    job_id = _job_id(rest)
    if ns.command == "show":
        job = store.get_job(url, job_id, with_request=True)
        if job is None:
            return _fail(f"no job {job_id}", int(ExitCode.BAD_INPUT))
        _print(ns, job, "\n".join(f"{k}: {v}" for k, v in job.items() if k != "attempt_rows") + "\nattempts:\n" +
               "\n".join(f"  {a['attempt']}: {a['worker']} {a['device']} {a['outcome']} exit {a['exit_code']} "
                         f"run {a['run_dir']}" for a in job["attempt_rows"]))
        return 0
    if ns.command == "cancel":
        if not store.cancel(url, job_id):
            job = store.get_job(url, job_id)
            return _fail(f"job {job_id} " + (f"is {job['state']}: nothing to cancel" if job else "does not exist"),
                         int(ExitCode.BAD_INPUT))
        _print(ns, {"id": job_id, "cancel": True}, f"job {job_id}: cancel requested")
        return 0
    if ns.command == "retry":
        new_id = store.retry(url, job_id)
        _print(ns, {"id": new_id, "retry_of": job_id}, f"job {new_id} queued (a retry of {job_id})")
        return 0
    return _fail(f"unknown command {ns.command}", 2)  # pragma: no cover - argparse limits the choices


def _doctor(ns: argparse.Namespace, config: dict[str, Any]) -> int:
    from doctor.service import schema
    from doctor.service.database import DatabaseError, ready, resolve

    database = resolve(ns.database_url, config)
    try:
        database = ready(database)
        current = schema.state(database.url)
    except DatabaseError as exc:
        return _fail(str(exc), int(ExitCode.ENVIRONMENT))
    report = {"database": database.shown, "source": database.source, "reachable": current.reachable,
              "procrastinate_schema": current.procrastinate, "procrastinate_installed": schema.installed_procrastinate(),
              "drdoctor_schema": current.ours, "migrated": current.migrated, "pending": list(current.pending),
              "error": current.error}
    lines = [f"job database: {database.shown} ({database.source})",
             f"reachable: {'yes' if current.reachable else 'no: ' + str(current.error)}"]
    if current.reachable:
        lines.append(f"schema: procrastinate {current.procrastinate or 'not applied'} (installed "
                     f"{report['procrastinate_installed']}), drdoctor {current.ours or 'not applied'}")
        if current.migrated:
            lines.append("migrated: yes")
        elif current.unknown:
            lines.append("migrated: unknown: Procrastinate's tables exist but nothing records which of its "
                         "migrations they have; what to do: apply them by hand (`procrastinate schema "
                         "--migrations-path`), or use a new database")
        else:
            missing = (f"{len(current.pending)} Procrastinate migration(s) pending: " + ", ".join(current.pending)
                       if current.pending else "the schema is not applied")
            lines.append(f"migrated: no: {missing}; what to do: `{schema.MIGRATE_COMMAND}` (a worker or any "
                         "queue command applies them too; stop workers of older drdoctor versions first)")
    _print(ns, report, "\n".join(lines))
    return 0 if current.migrated else int(ExitCode.ENVIRONMENT)


def _migrate(ns: argparse.Namespace, config: dict[str, Any]) -> int:
    import time

    from doctor.service import schema
    from doctor.service.database import DatabaseError, ready, resolve

    try:
        database = ready(resolve(ns.database_url, config))
        started = time.monotonic()
        result, applied = schema.migrate(database.url)
    except (DatabaseError, schema.MigrationError) as exc:
        return _fail(str(exc), int(ExitCode.ENVIRONMENT))
    if not result.reachable:
        return _fail(f"cannot reach the job database {database.shown}: {result.error}", int(ExitCode.ENVIRONMENT))
    seconds = time.monotonic() - started
    report = {"database": database.shown, "applied": applied, "seconds": round(seconds, 3),
              "procrastinate_schema": result.procrastinate, "migrated": result.migrated}
    text = (f"applied {len(applied)}: {', '.join(applied)} ({seconds:.2f} s)" if applied else
            "nothing to apply") + f"; the schema is Procrastinate {result.procrastinate}'s"
    _print(ns, report, text)
    return 0 if result.migrated else int(ExitCode.ENVIRONMENT)

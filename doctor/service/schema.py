"""The job database's schema: Procrastinate's own (applied by its schema manager) plus drdoctor's tables.

drdoctor's tables hold what Procrastinate does not: each job's outcome and output (the result cache),
each attempt (worker, device, run folder, timings) and every runner event in arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

SCHEMA_VERSION = "1"

OUR_TABLES = """
CREATE TABLE IF NOT EXISTS drdoctor_schema (
    name text PRIMARY KEY, version text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS drdoctor_jobs (
    job_id bigint PRIMARY KEY, cache_key text NOT NULL, outcome text, exit_code int, output text,
    message text, cached_from bigint, finished_at timestamptz);
CREATE INDEX IF NOT EXISTS drdoctor_jobs_cache ON drdoctor_jobs (cache_key) WHERE outcome = 'succeeded';
CREATE TABLE IF NOT EXISTS drdoctor_attempts (
    job_id bigint NOT NULL, attempt int NOT NULL, worker text NOT NULL, device text NOT NULL,
    run_dir text, resumed_from text, runner_pid int, started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz, exit_code int, outcome text, sample_seconds double precision, sample_steps int,
    PRIMARY KEY (job_id, attempt));
CREATE TABLE IF NOT EXISTS drdoctor_events (
    id bigserial PRIMARY KEY, job_id bigint NOT NULL, attempt int NOT NULL, seq int NOT NULL, event jsonb NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (job_id, attempt, seq));
"""


@dataclass(frozen=True)
class SchemaState:
    reachable: bool
    procrastinate: str | None  # the Procrastinate version whose schema was applied; None: not applied
    ours: str | None
    error: str | None = None

    @property
    def migrated(self) -> bool:
        return self.reachable and self.procrastinate == installed_procrastinate() and self.ours == SCHEMA_VERSION


def installed_procrastinate() -> str:
    from importlib.metadata import version

    return version("procrastinate")


def state(url: str) -> SchemaState:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            has_jobs = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()[0]
            has_ours = conn.execute("SELECT to_regclass('drdoctor_schema') IS NOT NULL").fetchone()[0]
            versions = dict(conn.execute("SELECT name, version FROM drdoctor_schema").fetchall()) if has_ours else {}
    except psycopg.Error as exc:
        return SchemaState(False, None, None, str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
    applied = versions.get("procrastinate") or ("unknown" if has_jobs else None)
    return SchemaState(True, applied, versions.get("drdoctor"))


def migrate(url: str) -> SchemaState:
    """Apply what is missing. Procrastinate's schema is applied once on an empty database; a database
    migrated by an older Procrastinate is left alone and reported (its migrations are applied with
    `procrastinate schema --migrations-path` and a migration tool, as its docs say)."""
    current = state(url)
    if not current.reachable:
        return current
    with psycopg.connect(url, autocommit=True) as conn:
        # one migrator at a time: two workers starting together must not both apply the schema
        conn.execute("SELECT pg_advisory_lock(hashtext('drdoctor_schema'))")
        try:
            if conn.execute("SELECT to_regclass('procrastinate_jobs') IS NULL").fetchone()[0]:
                from procrastinate import schema

                conn.execute(schema.SchemaManager.get_schema())
                _record(conn, "procrastinate", installed_procrastinate())
            conn.execute(OUR_TABLES)
            _record(conn, "drdoctor", SCHEMA_VERSION, only_new=False)
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('drdoctor_schema'))")
    return state(url)


def _record(conn: psycopg.Connection, name: str, version: str, only_new: bool = True) -> None:
    conn.execute(OUR_TABLES.split(";")[0])
    conflict = "DO NOTHING" if only_new else "DO UPDATE SET version = EXCLUDED.version, applied_at = now()"
    conn.execute(f"INSERT INTO drdoctor_schema (name, version) VALUES (%s, %s) ON CONFLICT (name) {conflict}",
                 (name, version))


def ready_url(explicit: str | None, config: dict) -> str:
    """The URL of a reachable, migrated job database (the embedded one started when none is configured).
    Raises DatabaseError naming the database (without its password) and what to do."""
    from doctor.service.database import DatabaseError, ready, resolve

    database = ready(resolve(explicit, config))
    result = migrate(database.url)
    if not result.reachable:
        raise DatabaseError(f"cannot reach the job database {database.shown} ({database.source}): "
                            f"{redact_text(result.error or '')}\n  what to do: check the URL and that Postgres runs "
                            "(`drdoctor queue doctor`)")
    return database.url


def redact_text(text: str) -> str:
    from doctor.service.database import redact

    return redact(text)

"""The job database's schema: Procrastinate's own (its schema.sql on an empty database, then the migration files
it ships, each recorded once applied) plus drdoctor's tables.

drdoctor's tables hold what Procrastinate does not: each job's outcome and output (the result cache),
each attempt (worker, device, run folder, timings) and every runner event in arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


LEDGER = """
CREATE TABLE IF NOT EXISTS drdoctor_procrastinate_migrations (
    name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), how text NOT NULL)
"""
# which database this is, for the job folders (doctor/service/folders.py): job ids restart at 1 in every
# database, so one data folder used with two databases must not give two jobs one folder. A database that held
# drdoctor's tables before this row existed keeps the old layout ("").
INSTANCE = """
INSERT INTO drdoctor_schema (name, version) SELECT 'instance', CASE WHEN EXISTS
    (SELECT 1 FROM drdoctor_schema WHERE name = 'drdoctor') THEN '' ELSE
    substr(md5(random()::text || clock_timestamp()::text), 1, 12) END
ON CONFLICT (name) DO NOTHING
"""
LOCK = "SELECT pg_advisory_lock(hashtext('drdoctor_schema'))"  # held across the migrations' transactions
UNLOCK = "SELECT pg_advisory_unlock(hashtext('drdoctor_schema'))"
MIGRATE_COMMAND = "drdoctor queue migrate"


@dataclass(frozen=True)
class Migration:
    """One of the SQL files Procrastinate ships (procrastinate/sql/migrations): `03.01.00_01_pre_add_heartbeat.sql`
    first ships with Procrastinate 3.1.0; the files apply in name order."""
    name: str
    path: Path

    @property
    def version(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.name.split("_", 1)[0].split("."))


@dataclass(frozen=True)
class SchemaState:
    reachable: bool
    procrastinate: str | None  # the Procrastinate version whose schema is applied; None: not applied
    ours: str | None
    error: str | None = None
    pending: tuple[str, ...] = ()  # Procrastinate migrations this database still needs, in order
    unknown: bool = False  # Procrastinate's tables exist, but nothing says which of its migrations they have

    @property
    def migrated(self) -> bool:
        return (self.reachable and self.procrastinate is not None and not self.pending and not self.unknown
                and self.ours == SCHEMA_VERSION)


def installed_procrastinate() -> str:
    from importlib.metadata import version

    return version("procrastinate")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


def shipped_migrations() -> list[Migration]:
    from procrastinate.schema import SchemaManager

    folder = Path(SchemaManager.get_migrations_path())
    return sorted((Migration(p.name, p) for p in folder.glob("*.sql")), key=lambda m: m.name)


def _applied(conn: psycopg.Connection, recorded_version: str | None) -> set[str] | None:
    """The names of the Procrastinate migrations this database has (None: cannot tell). The ledger says; a
    database from before it (drdoctor recorded only the version whose schema it applied) has every migration
    shipped with that version, that is every one named for it or an earlier one."""
    if conn.execute("SELECT to_regclass('drdoctor_procrastinate_migrations') IS NOT NULL").fetchone()[0]:
        rows = conn.execute("SELECT name FROM drdoctor_procrastinate_migrations").fetchall()
        if rows:
            return {name for (name,) in rows}
    if not recorded_version:
        return None
    built = _version(recorded_version)
    return {m.name for m in shipped_migrations() if m.version <= built}


def _state(conn: psycopg.Connection) -> SchemaState:
    has_jobs = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()[0]
    has_ours = conn.execute("SELECT to_regclass('drdoctor_schema') IS NOT NULL").fetchone()[0]
    versions = dict(conn.execute("SELECT name, version FROM drdoctor_schema").fetchall()) if has_ours else {}
    if not has_jobs:
        return SchemaState(True, None, versions.get("drdoctor"))
    applied = _applied(conn, versions.get("procrastinate"))
    if applied is None:
        return SchemaState(True, "unknown", versions.get("drdoctor"), unknown=True)
    pending = tuple(m.name for m in shipped_migrations() if m.name not in applied)
    return SchemaState(True, versions.get("procrastinate") or "unknown", versions.get("drdoctor"), pending=pending)


def state(url: str) -> SchemaState:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            return _state(conn)
    except psycopg.Error as exc:
        return SchemaState(False, None, None, _first_line(exc))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)


class MigrationError(Exception):
    """A migration failed (it is rolled back; the ones before it stay, recorded) or the database's state is unknown."""


def migrate(url: str) -> tuple[SchemaState, list[str]]:
    """Bring the database to the installed Procrastinate and drdoctor schema: an empty one gets Procrastinate's
    schema.sql (which holds every migration shipped so far, all recorded as such); an older one gets the
    migrations it lacks, in name order, each in a transaction with its ledger row (one transaction for all cannot
    work: Postgres refuses to use an enum value added in the same transaction, and 02.06.00 adds some that later
    files use), so a failure leaves the database at the last migration applied, recorded. An advisory lock is
    held throughout: two workers starting at once cannot both apply them. Returns the state and what was applied."""
    current = state(url)
    if not current.reachable:
        return current, []
    done: list[str] = []
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(LOCK)
            try:
                current = _state(conn)  # again, under the lock: another process may have migrated meanwhile
                if current.unknown:
                    raise MigrationError(
                        "the database has Procrastinate's tables but no record of which of its migrations it has\n"
                        "  what to do: apply the missing ones from `procrastinate schema --migrations-path` by hand, "
                        "then record them in drdoctor_procrastinate_migrations, or use a new database")
                migrations = {m.name: m for m in shipped_migrations()}
                with conn.transaction():
                    conn.execute(LEDGER)
                    if current.procrastinate is None:
                        from procrastinate.schema import SchemaManager

                        conn.execute(SchemaManager.get_schema())
                        _ledger(conn, list(migrations), "schema.sql")
                        done.append("schema.sql")
                    else:
                        _ledger(conn, sorted(set(migrations) - set(current.pending)), "before the ledger")
                for name in current.pending:
                    with conn.transaction():
                        conn.execute(migrations[name].path.read_text(encoding="utf-8"))
                        _ledger(conn, [name], "applied")
                    done.append(name)
                with conn.transaction():
                    conn.execute(OUR_TABLES)
                    conn.execute(INSTANCE)
                    _record(conn, "procrastinate", installed_procrastinate(), only_new=False)
                    _record(conn, "drdoctor", SCHEMA_VERSION, only_new=False)
            finally:
                conn.execute(UNLOCK)
    except psycopg.Error as exc:
        applied = f" (applied before it: {', '.join(done)})" if done else ""
        raise MigrationError(f"migrating the job database failed at {_failing(current, done)}: {_first_line(exc)}"
                             f"{applied}; what was applied is recorded, the failing step was rolled back") from exc
    return state(url), done


def _failing(current: SchemaState, done: list[str]) -> str:
    left = [name for name in current.pending if name not in done]
    return left[0] if left else "drdoctor's tables"


def _ledger(conn: psycopg.Connection, names: list[str], how: str) -> None:
    for name in names:
        conn.execute("INSERT INTO drdoctor_procrastinate_migrations (name, how) VALUES (%s, %s) "
                     "ON CONFLICT (name) DO NOTHING", (name, how))


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
    try:
        result, _applied_now = migrate(database.url)
    except MigrationError as exc:
        raise DatabaseError(f"the job database {database.shown} ({database.source}): {redact_text(str(exc))}") \
            from exc
    if not result.reachable:
        raise DatabaseError(f"cannot reach the job database {database.shown} ({database.source}): "
                            f"{redact_text(result.error or '')}\n  what to do: check the URL and that Postgres runs "
                            "(`drdoctor queue doctor`)")
    return database.url


def redact_text(text: str) -> str:
    from doctor.service.database import redact

    return redact(text)

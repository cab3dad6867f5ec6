"""The job database: `queue doctor`, a configured URL that does not answer, and passwords kept out of text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from _service_helpers import ended, job_when, start_worker, wav_seconds

from doctor.service import schema, store
from doctor.service.database import redact, resolve
from doctor.service.store import StoreError, connect

SECRET = "s3cr3t-pw"


def test_redact_hides_passwords_in_urls_and_conninfo():
    assert redact(f"postgresql://songs:{SECRET}@db.example:5432/jobs") == "postgresql://songs:***@db.example:5432/jobs"
    assert SECRET not in redact(f"host=db user=songs password={SECRET} dbname=jobs")
    assert SECRET not in redact(f"could not connect to postgresql://u:{SECRET}@h/d?sslmode=require: refused")
    assert redact("postgresql://postgres:@/postgres?host=/tmp/x") == "postgresql://postgres:***@/postgres?host=/tmp/x"


def test_the_url_comes_from_the_flag_then_the_environment_then_the_config(monkeypatch):
    monkeypatch.setenv("DRDOCTOR_DATABASE_URL", "postgresql://env/x")
    assert resolve("postgresql://flag/x", {}).source == "--database-url"
    assert resolve(None, {"service": {"database_url": "postgresql://cfg/x"}}).source == "DRDOCTOR_DATABASE_URL"
    monkeypatch.delenv("DRDOCTOR_DATABASE_URL")
    assert resolve(None, {"service": {"database_url": "postgresql://cfg/x"}}).url == "postgresql://cfg/x"
    assert resolve(None, {}).embedded


def test_an_unreachable_database_is_named_without_its_password(service):
    url = f"postgresql://songs:{SECRET}@127.0.0.1:9/jobs?connect_timeout=2"
    with pytest.raises(StoreError) as raised:
        connect(url)
    assert SECRET not in str(raised.value) and "songs:***@127.0.0.1:9" in str(raised.value)
    for argv in (["queue", "doctor", "--database-url", url], ["queue", "list", "--database-url", url],
                 ["worker", "--cpu", "--database-url", url]):
        done = subprocess.run([sys.executable, "-m", "doctor", *argv], env=service.env, capture_output=True,
                              text=True, timeout=30, check=False)
        assert done.returncode == 3, (argv, done.stdout, done.stderr)
        assert SECRET not in done.stdout + done.stderr and "127.0.0.1:9" in done.stdout + done.stderr


def test_queue_doctor_says_the_embedded_database_is_reachable_and_migrated(service):
    done = service.queue("doctor")
    assert done.returncode == 0, done.stderr
    assert "(embedded)" in done.stdout and "reachable: yes" in done.stdout and "migrated: yes" in done.stdout


def _older_procrastinate(url: str, version: tuple[int, ...], recorded: str | None) -> list[str]:
    """Procrastinate's schema as it was at `version`, built the way its docs build it: the first migration
    (00.00.00_01_initial.sql) and every later one shipped up to that version; with `recorded`, drdoctor's tables
    as a drdoctor from before the migration ledger left them. The names of the migrations still missing."""
    shipped = schema.shipped_migrations()
    with psycopg.connect(url, autocommit=True) as conn:
        for migration in shipped:
            if migration.version <= version:
                conn.execute(migration.path.read_text(encoding="utf-8"))
        if recorded:
            conn.execute(schema.OUR_TABLES)
            conn.execute("INSERT INTO drdoctor_schema (name, version) VALUES ('procrastinate', %s), ('drdoctor', %s)",
                         (recorded, schema.SCHEMA_VERSION))
    return [m.name for m in shipped if m.version > version]


def _catalog(url: str) -> dict[str, set]:
    """What a schema is made of: tables' columns with their types, functions with their arguments, indexes, types."""
    with psycopg.connect(url, autocommit=True) as conn:
        def rows(sql: str) -> set:
            return set(conn.execute(sql).fetchall())

        return {
            "columns": rows("SELECT table_name, column_name, data_type, is_nullable, column_default FROM "
                            "information_schema.columns WHERE table_schema = 'public' AND table_name LIKE 'procrastinate%'"),
            "functions": rows("SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(p.prosrc) FROM pg_proc p "
                              "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
                              "AND p.proname LIKE 'procrastinate%'"),
            "indexes": rows("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                            "AND tablename LIKE 'procrastinate%'"),
            "types": rows("SELECT t.typname, e.enumlabel FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid "
                          "WHERE t.typname LIKE 'procrastinate%'"),
            "triggers": rows("SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal"),
        }


def test_an_older_procrastinate_schema_is_reported_migrated_once_and_then_runs_jobs(service, new_database):
    url = new_database("older_procrastinate")
    # 2.0's schema: its way to 3.x adds enum values (02.06.00) that later migrations use, which Postgres allows
    # only once they are committed
    pending = _older_procrastinate(url, (2, 0, 0), recorded="2.0.0")
    assert "02.06.00_01_add_cancel_states.sql" in pending and "03.01.00_01_pre_add_heartbeat.sql" in pending

    doctor = service.queue("doctor", "--database-url", url)
    assert doctor.returncode == 3, doctor.stdout + doctor.stderr
    assert f"migrated: no: {len(pending)} Procrastinate migration(s) pending: {', '.join(pending)}" in doctor.stdout
    assert "`drdoctor queue migrate`" in doctor.stdout
    assert json.loads(service.queue("doctor", "--json", "--database-url", url).stdout)["pending"] == pending

    fresh = new_database("fresh_procrastinate")
    schema.migrate(fresh)
    assert _catalog(url) != _catalog(fresh)

    # two migrators at once (two workers starting together): the advisory lock lets one apply, the other waits
    env = {**service.env, "DRDOCTOR_DATABASE_URL": url}
    racers = [subprocess.Popen([sys.executable, "-m", "doctor", "queue", "migrate", "--json"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(r.wait(timeout=60), json.loads(r.stdout.read()), r.stderr.read()) for r in racers]
    assert [code for code, _, _ in results] == [0, 0], results
    applied = sorted((report["applied"] for _, report, _ in results), key=len)
    assert applied == [[], pending], results
    print(f"migrated {len(pending)} Procrastinate migrations in {max(r['seconds'] for _, r, _ in results)} s")
    with psycopg.connect(url, autocommit=True) as conn:
        ledger = dict(conn.execute("SELECT name, how FROM drdoctor_procrastinate_migrations").fetchall())
    assert {name for name, how in ledger.items() if how == "applied"} == set(pending)
    assert set(ledger) == {m.name for m in schema.shipped_migrations()}

    assert _catalog(url) == _catalog(fresh)  # the migrations lead to the schema schema.sql makes

    doctor = service.queue("doctor", "--database-url", url)
    assert doctor.returncode == 0 and "migrated: yes" in doctor.stdout, doctor.stdout
    assert "nothing to apply" in service.queue("migrate", "--database-url", url).stdout

    added = service.queue("add", "--json", "--database-url", url, *service.args("--seed", "5"))
    assert added.returncode == 0, added.stderr
    job_id = json.loads(added.stdout)[0]["job_id"]
    # job ids restart at 1 in every database: this one's job folders are not the main database's
    assert store.job_dir(url, service.config, job_id) != store.job_dir(service.url, service.config, job_id)
    worker = start_worker(env, service.logs, "older-db-worker")
    try:
        job = job_when(url, job_id, ended, 60, "the job on the migrated database")
        assert job["state"] == "succeeded", job
        assert job["attempt_rows"][0]["resumed_from"] is None
        assert Path(job["output"]) == store.job_dir(url, service.config, job_id) / "song.wav"
        assert abs(wav_seconds(Path(job["output"])) - 3.0) < 0.2
    finally:
        worker.stop()


def test_procrastinate_tables_with_no_record_of_their_migrations_are_not_guessed_at(service, new_database):
    url = new_database("unrecorded_procrastinate")
    _older_procrastinate(url, (2, 0, 0), recorded=None)
    before = _catalog(url)
    doctor = service.queue("doctor", "--database-url", url)
    assert doctor.returncode == 3 and "migrated: unknown" in doctor.stdout, doctor.stdout
    refused = service.queue("migrate", "--database-url", url)
    assert refused.returncode == 3 and "no record of which of its migrations" in refused.stderr
    assert _catalog(url) == before  # nothing applied

"""The job database: `queue doctor`, a configured URL that does not answer, and passwords kept out of text."""

from __future__ import annotations

import subprocess
import sys

import pytest

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

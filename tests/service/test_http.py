"""The HTTP API over real HTTP: the event stream, the token, uploads and input folders."""

from __future__ import annotations

import base64
import os
import stat
import threading

import pytest
from _service_helpers import http, job_when, read_sse, start_server

from doctor.service import folders, store
from doctor.service.token import is_loopback


def test_events_arrive_in_order_and_replay_from_the_start_for_a_late_client(service):
    status, body = http("POST", service.base + "/jobs",
                        {"style": "stream", "length": 3, "steps": 8, "seed": 3001, "fault": ["slow:0.1"]})
    assert status == 201
    job_id = body["jobs"][0]["id"]
    early: list = []
    reader = threading.Thread(target=lambda: early.extend(read_sse(f"{service.base}/jobs/{job_id}/events")))
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive()
    late = read_sse(f"{service.base}/jobs/{job_id}/events")  # connects after the job ended
    assert early == late  # the late client sees everything, from the start
    names = [name for name, _ in late]
    assert names[-1] == "end" and late[-1][1]["state"] == "succeeded"
    runner_events = [data for name, data in late if name == "runner"]
    assert runner_events[0]["type"] == "run_started" and runner_events[-1]["type"] == "run_finished"
    times = [e["t"] for e in runner_events]
    assert times == sorted(times)
    steps = [e["done"] for e in runner_events if e["type"] == "stage_progress" and e["stage"] == "sample"]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) == 7
    stages = [e["stage"] for e in runner_events if e["type"] == "stage_started"]
    assert stages == ["preflight", "load", "lyrics", "style", "sample", "decode", "validate", "write"]
    # a client that reconnects with Last-Event-ID gets only what came after
    stored = store.events(service.url, job_id)
    middle = stored[len(stored) // 2]["id"]
    resumed = read_sse(f"{service.base}/jobs/{job_id}/events?after={middle}")
    assert [d for n, d in resumed if n == "runner"] == runner_events[len(stored) // 2 + 1:]


def test_loopback_needs_no_token_and_every_other_address_does():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20") and not is_loopback("::")
    assert not is_loopback("example.org")  # a name may resolve anywhere


def test_a_server_with_a_token_refuses_requests_without_it(service):
    server, base = start_server(service.env, service.logs, "server-token", "--require-token")
    try:
        token_file = folders.token_file()
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        token = token_file.read_text().strip()
        assert token not in server.text()  # the token is never logged, only its file
        assert http("GET", base + "/jobs")[0] == 401
        assert http("GET", base + "/jobs", token="wrong")[0] == 401
        assert http("POST", base + "/jobs", {"style": "x"})[0] == 401
        assert http("GET", base + "/jobs/1/audio")[0] == 401
        status, body = http("GET", base + "/jobs", token=token)
        assert status == 200 and "jobs" in body
        assert http("GET", f"{base}/jobs?access_token={token}")[0] == 200
        assert http("GET", base + "/")[0] == 200  # the page itself holds nothing; it asks for the token
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["../config.toml", "/etc/passwd", "sub/../../config.toml", "..\\config.toml"])
def test_paths_that_leave_the_input_folders_are_refused(service, path):
    status, body = http("POST", service.base + "/jobs", {"style": "x", "length": 3, "lyrics": {"path": path}})
    assert status == 400, body
    assert "input folder" in body["error"] or "not absolute" in body["error"]


def test_symlinks_out_of_an_input_folder_and_oversized_uploads_are_refused(service):
    link = service.inputs / "escape.lrc"
    if not link.is_symlink():
        link.symlink_to(service.home / "config.toml")
    status, body = http("POST", service.base + "/jobs", {"style": "x", "length": 3, "lyrics": {"path": "escape.lrc"}})
    assert status == 400 and "symlink" in body["error"]
    big = base64.b64encode(b"x" * 5000).decode()  # the test config allows 4096 bytes
    status, body = http("POST", service.base + "/jobs", {"style": "x", "length": 3, "ref_audio": {"data_b64": big}})
    assert status == 400 and "larger than 4096 bytes" in body["error"]
    before = len(store.list_jobs(service.url, 1000))
    status, body = http("POST", service.base + "/jobs",
                        {"style": "from the folder", "length": 3, "steps": 4, "seed": 3002,
                         "lyrics": {"path": "song.lrc"}})
    assert status == 201, body  # a file inside the folder is taken
    job_id = body["jobs"][0]["id"]
    assert len(store.list_jobs(service.url, 1000)) == before + 1
    job = job_when(service.url, job_id, lambda j: j["state"] == "succeeded", 60, "the job to finish")
    assert job["request"]["lyrics"] == str(service.inputs / "song.lrc")


def test_audio_is_served_only_for_a_finished_job_of_this_server(service):
    assert http("GET", service.base + "/jobs/999999/audio")[0] == 404
    status, body = http("GET", service.base + "/jobs?state=succeeded&limit=1")
    job = body["jobs"][0]
    status, audio = http("GET", f"{service.base}/jobs/{job['id']}/audio")
    assert status == 200 and audio[:4] == b"RIFF"
    status, docs = http("GET", service.base + "/openapi.json")
    assert status == 200 and {"/jobs", "/jobs/{job_id}/events", "/jobs/{job_id}/audio"} <= set(docs["paths"])

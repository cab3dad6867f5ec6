"""Which device each runner gets: `--gpus all` starts one worker per GPU NVML reports, `--gpu N` gives its runner
CUDA_VISIBLE_DEVICES=N, `--cpu` an empty one. No GPU here: NVML's answer is a recorded snapshot of two GPUs
(the hidden `--nvml-snapshot`, as `drdoctor container status` has), and the runners, which see no CUDA device,
sample on the CPU; what is checked is the environment each real runner process was started with."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from _service_helpers import ended, job_when, runner_environment, wait_for

from doctor.service import store

TWO_GPUS = {"status": "ok", "driver_version": "580.65.06", "cuda_driver_version": 13000, "devices": [
    {"name": "NVIDIA H100", "memory_total": 85 << 30, "memory_free": 84 << 30, "compute_capability": [9, 0]},
    {"name": "NVIDIA H100", "memory_total": 85 << 30, "memory_free": 84 << 30, "compute_capability": [9, 0]}]}


def _workers(service, env: dict[str, str], name: str, *argv: str) -> tuple[subprocess.Popen, object]:
    log = service.logs / f"{name}.log"
    handle = log.open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "doctor", "worker", *argv, "--heartbeat", "0.5",
                             "--stall-timeout", "3", "--poll", "0.5"], env=env, stdout=handle,
                            stderr=subprocess.STDOUT)
    return proc, (log, handle)


def test_each_worker_gives_its_runner_its_own_gpu_or_none(service, new_database, tmp_path):
    url = new_database("devices")
    env = {**service.env, "DRDOCTOR_DATABASE_URL": url}
    snapshot = tmp_path / "nvml.json"
    snapshot.write_text(json.dumps(TWO_GPUS), encoding="utf-8")
    gpus, (gpu_log, gpu_handle) = _workers(service, env, "gpus-all", "--gpus", "all", "--nvml-snapshot", str(snapshot))
    cpu, (cpu_log, cpu_handle) = _workers(service, env, "cpu-worker", "--cpu")
    try:
        wait_for(lambda: gpu_log.read_text().count("ready") == 2 and "ready" in cpu_log.read_text(), 40,
                 "two GPU workers and a CPU worker")
        ready = gpu_log.read_text()
        assert "/cuda:0/" in ready and "/cuda:1/" in ready, ready  # one worker per GPU of the snapshot
        added = service.queue("add", "--json", "--count", "3", "--database-url", url,
                              *service.args("--steps", "10", "--fault", "slow:0.3", "--seed", "4100"))
        assert added.returncode == 0, added.stderr
        ids = [job["job_id"] for job in json.loads(added.stdout)]
        seen = {}

        def sampling_runners():
            for job_id in ids:
                if job_id in seen:
                    continue
                job = store.get_job(url, job_id, with_request=True)
                attempts = job["attempt_rows"] if job else []
                if attempts and attempts[-1]["runner_pid"] and any(
                        e["event"]["type"] == "stage_progress" for e in store.events(url, job_id)):
                    try:
                        visible = runner_environment(attempts[-1]["runner_pid"]).get("CUDA_VISIBLE_DEVICES")
                    except OSError:
                        continue  # already ended: this job cannot be judged (three workers, three jobs: rare)
                    seen[job_id] = (attempts[-1]["device"], visible)
            return len(seen) == len(ids)

        wait_for(sampling_runners, 60, "each job's runner to sample")
        expected = {"cuda:0": "0", "cuda:1": "1", "cpu": ""}
        assert all(expected[device] == visible for device, visible in seen.values()), seen
        assert {device for device, _ in seen.values()} == set(expected), seen  # three jobs, three workers at once
        for job_id in ids:
            assert job_when(url, job_id, ended, 60, f"job {job_id}")["state"] == "succeeded"
    finally:
        for proc in (gpus, cpu):
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=30) for proc in (gpus, cpu)]
        gpu_handle.close()
        cpu_handle.close()
    assert codes == [0, 0]  # --gpus all handed SIGTERM to both its workers, which stopped cleanly


def test_gpus_all_without_a_gpu_says_so(service, tmp_path):
    snapshot = tmp_path / "nvml.json"
    snapshot.write_text(json.dumps({"status": "no_driver", "error": "the NVIDIA kernel driver is not loaded"}))
    done = subprocess.run([sys.executable, "-m", "doctor", "worker", "--gpus", "all", "--nvml-snapshot",
                           str(snapshot)], env=service.env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 3 and "NVML reports no GPU" in done.stderr and "--cpu" in done.stderr

"""What the queue costs over running `drdoctor generate` directly (run as a script, not by pytest):

    .venv/bin/python tests/bench/bench_queue.py [--jobs 5] [--steps 32] [--flood-steps 400]

On the tiny bundle, in one run, side by side: `drdoctor generate --json` run directly, and the same
request through `drdoctor queue add` machinery (in-process submit) to one idle `drdoctor worker`, with
a private embedded Postgres. Printed:

- submit -> runner started: from the submit call returning to the worker launching the runner
  (the attempt row is written just before the launch; goal < 100 ms);
- events: the runner's event rate against the rate they were stored in Postgres (a job with many
  fast steps floods the writer), and the worst lag from an event's `t` to its row;
- overhead: the queued job's wall time (submit -> outcome stored) minus the direct run's, as a share
  of the direct run, and of a real song's time (60 s, a short song on a fast GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "service"))
sys.path.insert(0, str(REPO / "tests"))  # waiting.py

REAL_SONG_S = 60.0


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--jobs", type=int, default=5)
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--flood-steps", type=int, default=400)
    ns = p.parse_args()
    home = Path(tempfile.mkdtemp(prefix="drdoctor-bench-queue-"))
    bundle = home / "bundle"
    env = dict(os.environ, DRDOCTOR_DATA_DIR=str(home / "data"), DRDOCTOR_CONFIG=str(home / "none.toml"),
               XDG_CACHE_HOME=str(home / "cache"), OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    os.environ.update({k: env[k] for k in ("DRDOCTOR_DATA_DIR", "DRDOCTOR_CONFIG", "XDG_CACHE_HOME")})
    subprocess.run([sys.executable, "-m", "runner.bundle", "build", str(bundle)], env=env, check=True,
                   capture_output=True, timeout=120)
    from _service_helpers import start_worker, wait_for

    from doctor.service import schema, store, submit
    from doctor.service.database import embedded_folder, stop_embedded

    url = schema.ready_url(None, {})
    worker = None
    try:
        worker = start_worker(env, home, "bench-worker")
        time.sleep(1.5)  # idle: registered, listening
        request = ["--bundle", str(bundle), "--style", "bench", "--length", "3", "--steps", str(ns.steps)]
        direct, queued, launch, first_event = [], [], [], []
        for k in range(ns.jobs):
            seed = str(9000 + k)
            out = home / f"direct-{k}.wav"
            started = time.time()
            run = subprocess.run([sys.executable, "-m", "doctor", "generate", "--json", *request, "--seed", seed,
                                  "--out", str(out), "--run-dir", str(home / "runs")], env=env, capture_output=True,
                                 timeout=120, check=False)
            assert run.returncode == 0, run.stderr[-2000:]
            direct.append(time.time() - started)
            events = [json.loads(line) for line in run.stdout.splitlines()]
            first_event.append(("direct", events[0]["t"] - started))

            submitted = time.time()
            job = submit.submit(url, request + ["--seed", str(int(seed) + 1000)], use_cache=False)[0]
            returned = time.time()
            wait_for(lambda j=job.job_id: store.get_job(url, j)["state"] == "succeeded", 120, "the job", every=0.02)
            with store.connect(url) as conn:
                row = conn.execute("SELECT extract(epoch FROM a.started_at) AS started, "
                                   "extract(epoch FROM r.finished_at) AS finished FROM drdoctor_attempts a "
                                   "JOIN drdoctor_jobs r ON r.job_id = a.job_id WHERE a.job_id = %s",
                                   (job.job_id,)).fetchone()
            launch.append(float(row["started"]) - returned)
            queued.append(float(row["finished"]) - submitted)
            stored = store.events(url, job.job_id)
            first_event.append(("queued", stored[0]["event"]["t"] - submitted))
            assert store.get_job(url, job.job_id)["attempts"] == 1

        flood = submit.submit(url, ["--bundle", str(bundle), "--style", "flood", "--length", "3", "--steps",
                                    str(ns.flood_steps), "--seed", "1"], use_cache=False)[0]
        wait_for(lambda: store.get_job(url, flood.job_id)["state"] == "succeeded", 300, "the flood job", every=0.05)
        with store.connect(url) as conn:
            rows = conn.execute("SELECT (event->>'t')::float AS t, extract(epoch FROM stored_at) AS s "
                                "FROM drdoctor_events WHERE job_id = %s ORDER BY id", (flood.job_id,)).fetchall()
        progress = [r for r in rows]
        emitted = len(progress) / max(progress[-1]["t"] - progress[0]["t"], 1e-9)
        written = len(progress) / max(float(progress[-1]["s"]) - float(progress[0]["s"]), 1e-9)
        lag = max(float(r["s"]) - r["t"] for r in progress)
    finally:
        if worker is not None:
            worker.stop()
        stop_embedded(embedded_folder())
        shutil.rmtree(home, ignore_errors=True)

    d, q = statistics.median(direct), statistics.median(queued)
    print(f"bundle song: 3 s, {ns.steps} steps; {ns.jobs} runs each way, medians; CPU: {_cpu()}")
    print(f"{'':34}{'direct generate':>18}{'through the queue':>20}")
    print(f"{'wall time per song':34}{d:>16.3f} s{q:>18.3f} s")
    print(f"{'start -> first runner event':34}"
          f"{statistics.median(v for k, v in first_event if k == 'direct'):>16.3f} s"
          f"{statistics.median(v for k, v in first_event if k == 'queued'):>18.3f} s")
    print(f"submit -> runner started (idle worker): median {statistics.median(launch) * 1000:.1f} ms, "
          f"max {max(launch) * 1000:.1f} ms (goal < 100 ms)")
    print(f"events ({len(progress)} in a {ns.flood_steps}-step job): runner emitted {emitted:.0f}/s, "
          f"Postgres stored {written:.0f}/s, worst lag {lag * 1000:.1f} ms")
    overhead = q - d
    print(f"queue overhead: {overhead:+.3f} s per job = {overhead / d:+.1%} of this bundle song, "
          f"{overhead / REAL_SONG_S:+.2%} of a {REAL_SONG_S:.0f} s real song")
    return 0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f" x{os.cpu_count()}"
    except OSError:
        pass
    return "?"


if __name__ == "__main__":
    sys.exit(main())

"""`drdoctor worker [--gpu N | --gpus all] [--cpu] [--container [--image IMAGE]]`: run song jobs from the job
database, one at a time per GPU.

Each job's runner is launched as `drdoctor generate` launches it (the same argument builder and process
launcher), with CUDA_VISIBLE_DEVICES set to the worker's GPU (empty with --cpu); with --container, as
`drdoctor container run generate` runs it (that very command: the engine gets GPU N only, `--gpus device=N`,
or no GPU request with --cpu). `--gpus all` starts one worker process per GPU NVML reports. SIGTERM (or Ctrl-C) finishes the running job's current step and
puts the job back in the queue; a second one stops at once (the job is then retried by another worker
after the stall timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys

from doctor import config as config_mod
from doctor.launch import pick_python
from runner.events import ExitCode


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="drdoctor worker", description="Run song jobs from the job database.")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--gpu", type=int, metavar="N", help="run on GPU N (CUDA_VISIBLE_DEVICES=N)")
    where.add_argument("--gpus", choices=["all"], help="one worker per GPU")
    where.add_argument("--cpu", action="store_true", help="run on the CPU (CUDA_VISIBLE_DEVICES empty)")
    p.add_argument("--container", action="store_true",
                   help="run each job in the container, as `drdoctor container run generate` does")
    from doctor.container.images import DEFAULT_IMAGE

    p.add_argument("--image", help=f"with --container: the image (default: [container] image, else {DEFAULT_IMAGE})")
    p.add_argument("--docker-host", metavar="URL", help="with --container: the engine (default: DOCKER_HOST, ...)")
    p.add_argument("--stop-timeout", type=float, default=10.0, metavar="S",
                   help="with --container: after SIGINT, wait S s for the runner before killing the container")
    p.add_argument("--database-url", help="Postgres URL (default: DRDOCTOR_DATABASE_URL, config, embedded)")
    p.add_argument("--python", help="interpreter of the DiffRhythm environment (default: config, then this one)")
    p.add_argument("--heartbeat", type=float, default=None, metavar="S",
                   help="seconds between heartbeats (default: config [service] heartbeat_s, else 10)")
    p.add_argument("--stall-timeout", type=float, default=None, metavar="S",
                   help="a worker silent this long is dead and its job is retried (default: config "
                        "[service] stall_timeout_s, else 30)")
    p.add_argument("--poll", type=float, default=1.0, metavar="S", help="seconds between polls (besides LISTEN)")
    p.add_argument("--nvml-snapshot", metavar="FILE", help=argparse.SUPPRESS)  # recorded GPU facts (tests)
    return p


def gpu_count(snapshot: str | None = None) -> int:
    from pathlib import Path

    from doctor.probes import nvml

    facts = nvml.recorded(Path(snapshot))() if snapshot else nvml.live()
    return len(facts.get("devices") or []) if facts.get("status") == "ok" else 0


def _all_gpus(argv: list[str], snapshot: str | None) -> int:
    count = gpu_count(snapshot)
    if count == 0:
        print("drdoctor worker: --gpus all, but NVML reports no GPU\n  what to do: run `drdoctor check`, "
              "or use --cpu", file=sys.stderr)
        return int(ExitCode.ENVIRONMENT)
    rest = [a for a in argv if a not in ("--gpus", "all", "--gpus=all")]
    children = [subprocess.Popen([sys.executable, "-m", "doctor", "worker", "--gpu", str(i), *rest])
                for i in range(count)]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    return max(codes) if codes else 0


def main(argv: list[str]) -> int:
    ns = _parser().parse_args(argv)
    if not ns.container and (ns.image or ns.docker_host):
        print("drdoctor worker: --image and --docker-host go with --container", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    try:
        config = config_mod.load()
    except config_mod.ConfigError as exc:
        print(f"drdoctor worker: {exc}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    if ns.gpus == "all":
        return _all_gpus(argv, ns.nvml_snapshot)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s drdoctor worker: %(message)s", stream=sys.stderr)
    from doctor.service import folders, schema
    from doctor.service.attempt import ContainerRoute, Slot
    from doctor.service.database import DatabaseError
    from doctor.service.worker import (
        HEARTBEAT_S,
        STALL_TIMEOUT_S,
        serve_forever,
        worker_name,
    )

    if ns.gpu is not None:
        device, visible = f"cuda:{ns.gpu}", str(ns.gpu)
    elif ns.cpu or gpu_count(ns.nvml_snapshot) == 0:
        device, visible = "cpu", ""
    else:
        device, visible = "cuda:0", "0"
    heartbeat = ns.heartbeat or float(folders.setting(config, "heartbeat_s", HEARTBEAT_S))
    stall = ns.stall_timeout or float(folders.setting(config, "stall_timeout_s", STALL_TIMEOUT_S))
    if stall <= 2 * heartbeat:
        print(f"drdoctor worker: --stall-timeout {stall} must be more than twice --heartbeat {heartbeat}",
              file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    try:
        url = schema.ready_url(ns.database_url, config)
    except DatabaseError as exc:
        print(f"drdoctor worker: {exc}", file=sys.stderr)
        return int(ExitCode.ENVIRONMENT)
    route = ContainerRoute(ns.image, ns.docker_host, ns.stop_timeout) if ns.container else None
    slot = Slot(worker=worker_name(device), device=device, cuda_visible=visible,
                python=sys.executable if route else pick_python(ns.python, config), config=config, container=route)
    where = f"in the container ({ns.image or 'the configured image'})" if route else f"with {slot.python}"
    print(f"drdoctor worker {slot.worker}: ready (pid {os.getpid()}, {where}, heartbeat {heartbeat} s, "
          f"stall timeout {stall} s)", file=sys.stderr, flush=True)
    return asyncio.run(serve_forever(url, slot, heartbeat, stall, ns.poll))

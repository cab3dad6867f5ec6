"""`python -m runner`: one run from arguments to exit code, every outcome reported as events."""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from runner import artifacts, hub_env
from runner.disk_space import DiskFull, is_disk_full
from runner.emit import Emitter, claim_stdout
from runner.errors import BadInput, RunError
from runner.outcome import outcome_for
from runner.request import PATH_FIELDS, Request, parse

log = logging.getLogger("runner")



def offline_environment() -> None:
    """No network look-ups from Hugging Face libraries unless the launcher allowed them (runner.hub_env)."""
    hub_env.settle()


def absolute(request: Request) -> Request:
    """Paths made absolute, so request.json still means the same files from another folder."""
    changes = {}
    for name in PATH_FIELDS:
        value = getattr(request, name)
        if value:
            changes[name] = str(Path(value).expanduser().absolute())
    if request.model_file:
        changes["model_file"] = tuple(
            f"{role}={Path(path).expanduser().absolute()}" for role, _, path in (m.partition("=") for m in request.model_file)
        )
    return dataclasses.replace(request, **changes)


class _RunLog(logging.FileHandler):
    """runner.log; a full disk loses log lines quietly (the run reports the full disk itself), no traceback."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        pass

    def close(self) -> None:
        try:
            super().close()
        except OSError:  # its last lines could not be flushed to a full disk
            pass


def _setup_logging(folder: Path) -> logging.Handler:
    log.setLevel(logging.DEBUG)
    log.propagate = False
    if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler) for h in log.handlers):
        err = logging.StreamHandler(sys.stderr)
        err.setLevel(getattr(logging, os.environ.get("RUNNER_LOG_LEVEL", "ERROR").upper(), logging.ERROR))
        err.setFormatter(logging.Formatter("runner: %(levelname)s %(message)s"))
        log.addHandler(err)
    handler = _RunLog(folder / artifacts.LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    return handler


def _fail_early(emitter: Emitter, exc: RunError, started: float) -> int:
    code = int(exc.code)
    emitter.emit("error", stage="preflight", code=code, message=exc.message, remedy=exc.remedy)
    emitter.emit("run_finished", ok=False, exit_code=code, output=None, seconds=round(time.monotonic() - started, 3))
    print(f"runner: {exc.message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    offline_environment()
    started = time.monotonic()
    emitter = Emitter(artifacts.new_run_id(), claim_stdout())
    try:
        request, _given = parse(sys.argv[1:] if argv is None else argv)
    except SystemExit as shown:  # --help: printed to stderr (stdout is events only)
        return int(shown.code or 0)
    except BadInput as exc:
        return _fail_early(emitter, exc, started)
    request = absolute(request)
    if request.resume:
        folder = Path(request.resume)
        emitter.run_id = folder.name
    else:
        folder = Path(request.run_dir) / emitter.run_id
        try:
            folder.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            problem = DiskFull(folder, "the run folder") if is_disk_full(exc) else BadInput(
                f"cannot create the run folder {folder}: {exc.strerror}", "give --run-dir a folder you can write")
            return _fail_early(emitter, problem, started)
    emitter.attach_folder(folder / artifacts.EVENTS)
    handler = _setup_logging(folder)
    try:
        return _run(request, folder, emitter, started)
    finally:
        log.removeHandler(handler)
        handler.close()
        emitter.close()


def resume_remedy(remedy: str, folder: Path) -> str:
    """A resumable failure's remedy, ending with the run folder's real `--resume` (or a new run when it cannot)."""
    if (folder / artifacts.REQUEST).is_file():
        return f"{remedy}; then continue this run with --resume {shlex.quote(str(folder))}"
    return f"{remedy}; then start the run again"


def _failed(run: Any, exc: BaseException) -> tuple[int, dict[str, Any]]:
    """The exception as the run's error event; returns (exit code, the error)."""
    outcome = outcome_for(exc)
    stage = getattr(exc, "stage", None) or run.current_stage
    if outcome.traceback_worthy:
        log.exception("unexpected error in stage %s", stage)
    else:
        log.error("stage %s: %s", stage, outcome.message)
    remedy = resume_remedy(outcome.remedy, run.folder) if outcome.resumable else outcome.remedy
    error = {"stage": stage, "code": int(outcome.code), "message": outcome.message, "remedy": remedy}
    run.emitter.emit("error", **error)
    return int(outcome.code), error


def _run(request: Request, folder: Path, emitter: Emitter, started: float) -> int:
    # torch is imported only here: argument errors above answer fast
    from runner import pipeline
    from runner.interrupt import Stopper
    from runner.stages.preflight import choose_precision, resolve_device
    from runner.stages.state import Run

    stopper = Stopper(request.timeout)
    stopper.install()
    run = Run(request, folder, emitter, stopper, pipeline.versions())
    try:
        device = resolve_device(request.device)
        device_name, dtype_name = str(device), choose_precision(request, device).dtype
    except RunError:
        device_name, dtype_name = request.device, request.dtype  # preflight reports it
    emitter.emit("run_started", request=request.to_json(), device=device_name, dtype=dtype_name,
                 versions=run.versions, folder=str(folder), resumed=bool(request.resume))
    log.info("run %s in %s: %s", emitter.run_id, folder, request)
    code, error = 0, None
    try:
        artifacts.write_json(folder / artifacts.REQUEST, request.to_json())
        pipeline.run_stages(run)
    except BaseException as exc:  # noqa: BLE001 - every outcome becomes an exit code, in one place
        code, error = _failed(run, exc)
    plan = run.plan
    manifest = {
        "run": emitter.run_id,
        "ok": code == 0,
        "exit_code": code,
        "error": error,
        "request": request.to_json(),
        "seed": request.seed,
        "versions": run.versions,
        "device": str(plan.device) if plan else device_name,
        "dtype": plan.precision.dtype if plan else dtype_name,
        "dtype_reason": plan.precision.reason if plan else None,
        "frames": plan.frames if plan else None,
        "length_s": plan.length_s if plan else None,
        "resumed_from": plan.resume_from if plan else None,
        "files": run.files,
        "timings": run.timings,
        "validation": run.checks,
        "warnings": run.warnings,
        "output": run.output if code == 0 else None,
        "seconds": round(time.monotonic() - started, 3),
        **run.extra_manifest,  # song (edit / continue), batch, candidates, outputs
    }
    try:
        size = artifacts.write_json(folder / artifacts.MANIFEST, manifest)
        emitter.emit("artifact", kind="manifest", path=str(folder / artifacts.MANIFEST), bytes=size)
        emitter.check()
    except DiskFull as exc:  # the run's record is incomplete: not a success
        log.error("cannot write the run's record: %s", exc.message)
        if code == 0:
            run.discard_outputs()
            code, error = _failed(run, exc)
    except OSError as exc:
        log.error("cannot write the manifest: %s", exc)
    extra = {"outputs": run.extra_manifest.get("outputs", []) if code == 0 else []} if request.batch > 1 else {}
    emitter.emit("run_finished", ok=code == 0, exit_code=code,
                 output=run.output["path"] if code == 0 and run.output else None,
                 seconds=round(time.monotonic() - started, 3), **extra)
    return code

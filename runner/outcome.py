"""Every exception -> (exit code, message, remedy), in one place (like harlequin's exit_code_for)."""

from __future__ import annotations

from dataclasses import dataclass

from runner.disk_space import DiskFull, is_disk_full
from runner.errors import RunError
from runner.events import ExitCode


@dataclass(frozen=True)
class Outcome:
    code: ExitCode
    message: str
    remedy: str
    traceback_worthy: bool = False
    resumable: bool = False  # the run folder can continue it (`--resume FOLDER`)


def _is_oom(exc: BaseException) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - the runner always has torch
        return False
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def outcome_for(exc: BaseException) -> Outcome:
    if isinstance(exc, RunError):
        return Outcome(exc.code, exc.message, exc.remedy, resumable=exc.resumable)
    if isinstance(exc, KeyboardInterrupt):
        return Outcome(ExitCode.CANCELLED, "interrupted", "the run folder keeps what was done", resumable=True)
    if is_disk_full(exc):  # a write that did not go through disk_space.guard
        assert isinstance(exc, OSError)
        full = DiskFull(exc.filename or ".", "a file")
        return Outcome(full.code, full.message, full.remedy, resumable=True)
    if _is_oom(exc):
        return Outcome(
            ExitCode.OUT_OF_MEMORY, f"out of memory: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            "close other GPU programs, use a shorter --length, or --device cpu",
        )
    if isinstance(exc, (ImportError, ModuleNotFoundError)):
        return Outcome(
            ExitCode.ENVIRONMENT, f"missing dependency: {exc}",
            "run `drdoctor check` to see what the environment lacks", True,
        )
    return Outcome(
        ExitCode.FAILURE, f"{type(exc).__name__}: {exc}",
        "an unexpected error: the traceback is in the run folder's runner.log", True,
    )


def exit_code_for(exc: BaseException) -> int:
    return int(outcome_for(exc).code)

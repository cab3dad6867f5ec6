"""Every exception -> (exit code, message, remedy), in one place (like harlequin's exit_code_for)."""

from __future__ import annotations

from dataclasses import dataclass

from runner.errors import RunError
from runner.events import ExitCode


@dataclass(frozen=True)
class Outcome:
    code: ExitCode
    message: str
    remedy: str
    traceback_worthy: bool = False


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
        return Outcome(exc.code, exc.message, exc.remedy)
    if isinstance(exc, KeyboardInterrupt):
        return Outcome(ExitCode.CANCELLED, "interrupted", "continue it with --resume RUN_DIR")
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

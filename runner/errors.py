"""Failures that end a run, each carrying its exit code (DESIGN.md) and what the user should do."""

from __future__ import annotations

from runner.events import ExitCode


class RunError(Exception):
    code: ExitCode = ExitCode.FAILURE
    resumable = False  # the run folder can continue it: the app ends the remedy with its real `--resume FOLDER`

    def __init__(self, message: str, remedy: str = "", *, stage: str | None = None):
        super().__init__(message)
        self.message = message
        self.remedy = remedy
        self.stage = stage  # filled in by the pipeline when the raiser does not know it


class BadInput(RunError):
    code = ExitCode.BAD_INPUT


class EnvironmentProblem(RunError):
    code = ExitCode.ENVIRONMENT


class InvalidOutput(RunError):
    code = ExitCode.INVALID_OUTPUT


class OutOfMemory(RunError):
    code = ExitCode.OUT_OF_MEMORY


class TimedOut(RunError):
    code = ExitCode.TIMED_OUT
    resumable = True


class Cancelled(RunError):
    code = ExitCode.CANCELLED
    resumable = True

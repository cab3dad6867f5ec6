"""Stopping at step boundaries: SIGINT/SIGTERM (exit 130) and the --timeout deadline (exit 6).

The handlers only set a flag; long loops call `Stopper.check()` between steps, so the current
stage stops at its next boundary and the run folder keeps everything finished so far. A second
SIGINT falls back to Python's default (KeyboardInterrupt, still exit 130).
"""

from __future__ import annotations

import signal
import time

from runner.errors import Cancelled, TimedOut
from runner.timefmt import format_seconds


class Stopper:
    def __init__(self, timeout: float | None = None):
        self.started = time.monotonic()
        self.deadline = None if timeout is None else self.started + timeout
        self.timeout = timeout
        self.signal_name: str | None = None

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.signal_name = signal.Signals(signum).name
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def check(self) -> None:
        """Raise Cancelled or TimedOut if the run must stop now (both resumable: the app adds `--resume FOLDER`)."""
        if self.signal_name is not None:
            raise Cancelled(
                f"stopped by {self.signal_name}",
                "the run folder keeps what was done",
            )
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimedOut(
                f"ran past --timeout {format_seconds(self.timeout)}",
                "give a longer --timeout or a GPU",
            )

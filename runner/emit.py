"""The event writer: one JSON line per event on the real stdout (flushed) and in the run folder.

`claim_stdout()` moves the process's stdout file descriptor aside for events and points fd 1 (and
`sys.stdout`) at stderr, so a stray print() in a library can never corrupt the event stream.

A full disk under the run folder never leaves half a line in events.ndjson: the file is cut back to its
last whole event and no longer written; `check()` then raises the DiskFull once, where the run can stop.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO, Any

from runner.disk_space import DiskFull, guard
from runner.events import encode, make_event


def claim_stdout() -> IO[bytes]:
    """A private binary stream onto the original stdout; fd 1 and sys.stdout now go to stderr."""
    sys.stdout.flush()
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(events_fd, "wb", buffering=0)


class Emitter:
    def __init__(self, run_id: str, stream: IO[bytes] | None):
        self.run_id = run_id
        self.stream = stream
        self._log: tuple[IO[bytes], Path] | None = None  # events.ndjson, open for appending
        self._attached = False
        self._pending: list[bytes] = []  # events before the run folder exists
        self.problem: DiskFull | None = None  # the event log could not be written: raised by check()

    def attach_folder(self, path: Path) -> None:
        """Append events to `path` (events.ndjson) from now on, starting with those already sent."""
        self._log = (open(path, "ab", buffering=0), path)
        self._attached = True
        pending, self._pending = self._pending, []
        for line in pending:
            self._append(self._log, line)

    def _append(self, log: tuple[IO[bytes], Path], line: bytes) -> None:
        handle, path = log
        whole = handle.tell()
        try:
            with guard(path, "the event log"):
                view = memoryview(line)
                while view:  # an unbuffered write may write only part of the line
                    view = view[handle.write(view) or 0 :]
        except DiskFull as full:
            handle.truncate(whole)
            handle.close()
            self._log = None
            self.problem = full

    def check(self) -> None:
        """Raise the event log's DiskFull (once): the run stops there, with exit 3."""
        problem, self.problem = self.problem, None
        if problem is not None:
            raise problem

    def emit(self, type_: str, **fields: Any) -> dict[str, Any]:
        event = make_event(type_, self.run_id, **fields)
        line = (encode(event) + "\n").encode("utf-8")
        if self.stream is not None:
            try:
                self.stream.write(line)
                self.stream.flush()
            except (BrokenPipeError, OSError):
                self.stream = None  # the reader went away; keep going, the run folder has it all
        if self._log is not None:
            self._append(self._log, line)
        elif not self._attached:
            self._pending.append(line)
        return event

    def close(self) -> None:
        if self._log is not None:
            self._log[0].close()
            self._log = None

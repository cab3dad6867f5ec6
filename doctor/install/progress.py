"""Live download progress: a line on the terminal (bytes, rate, ETA) and NDJSON events for the TUI.

Install events (one JSON object per line, appended to the `--events` file): every event has
`{"v": 1, "type": ..., "t": <unix seconds>}` plus
  download_started   repo, file, total, resumed_from
  download_progress  repo, file, done, total, rate (bytes/s), eta (seconds or null)
  download_finished  repo, file, bytes, sha256 (or git sha1), seconds
  download_refused   repo, file, message
  part_started       part (a fix id: install.checkout, espeak.install, ...), title
  part_finished      part, state (applied, done, blocked, declined, failed, interrupted), message
  install_finished   exit_code, results ({part: state}), installed ({checkout, environment, weights}: bool),
                     first_song (the command that makes the first song, or null while the install is incomplete)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TextIO

from doctor.units import duration, gib


def progress_text(done: int, total: int | None, rate: float | None, eta: float | None) -> str:
    """'1.0 MiB / 6.0 MiB (16.7%), 2.0 MiB/s, ETA 2.5s': a download's progress, on the terminal and in the TUI."""
    percent = 100.0 * done / total if total else 100.0
    return f"{gib(done)} / {gib(total)} ({percent:.1f}%), {gib(int(rate or 0))}/s, ETA {duration(eta)}"


class Events:
    """Appends install events to a file (or nowhere)."""

    def __init__(self, path: Path | None):
        self.path = path

    def emit(self, kind: str, **fields: object) -> None:
        if self.path is None:
            return
        event = {"v": 1, "type": kind, "t": round(time.time(), 3), **fields}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event) + "\n")


class FileProgress:
    """Progress of one file; prints at most every `interval` seconds, and once at the end."""

    def __init__(self, repo: str, name: str, total: int, start: int, events: Events,
                 out: TextIO | None = None, interval: float = 1.0):
        self.repo, self.name, self.total, self.done = repo, name, total, start
        self.events, self.out, self.interval = events, out or sys.stdout, interval
        self.started = time.monotonic()
        self.start_bytes = start
        self.last = 0.0
        events.emit("download_started", repo=repo, file=name, total=total, resumed_from=start)

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return (self.done - self.start_bytes) / elapsed if elapsed > 0 else 0.0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self.show()

    def show(self) -> None:
        rate = self.rate()
        eta = (self.total - self.done) / rate if rate > 0 else None
        self.out.write(f"    {self.name}: {progress_text(self.done, self.total, rate, eta)}\n")
        self.out.flush()
        self.events.emit("download_progress", repo=self.repo, file=self.name, done=self.done, total=self.total,
                         rate=round(rate), eta=None if eta is None else round(eta, 1))

    def finished(self, digest: str) -> None:
        self.show()
        self.events.emit("download_finished", repo=self.repo, file=self.name, bytes=self.done, sha256=digest,
                         seconds=round(time.monotonic() - self.started, 3))

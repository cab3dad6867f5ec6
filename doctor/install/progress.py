"""Live download progress: a line on the terminal (bytes, rate, ETA) and NDJSON events for the TUI.

Install events (one JSON object per line, appended to the `--events` file): every event has
`{"v": 1, "type": ..., "t": <unix seconds>}` plus
  download_started   repo, file, total, resumed_from
  download_progress  repo, file, done, total, rate (bytes/s), eta (seconds or null)
  download_finished  repo, file, bytes, sha256 (or git sha1), seconds
  download_refused   repo, file, message
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TextIO

from doctor.units import duration, gib


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
        percent = 100.0 * self.done / self.total if self.total else 100.0
        self.out.write(f"    {self.name}: {gib(self.done)} / {gib(self.total)} ({percent:.1f}%), "
                       f"{gib(int(rate))}/s, ETA {duration(eta)}\n")
        self.out.flush()
        self.events.emit("download_progress", repo=self.repo, file=self.name, done=self.done, total=self.total,
                         rate=round(rate), eta=None if eta is None else round(eta, 1))

    def finished(self, digest: str) -> None:
        self.show()
        self.events.emit("download_finished", repo=self.repo, file=self.name, bytes=self.done, sha256=digest,
                         seconds=round(time.monotonic() - self.started, 3))

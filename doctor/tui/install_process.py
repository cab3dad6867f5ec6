"""`drdoctor install` as the app runs it: the same command, with `--yes` (the app asked first), `--no-check`
(the app runs the checkup itself) and `--events FILE`, in its own session.

`stream()` runs in a thread worker: the installer's printed lines and the events it appends to FILE (its
step modules append there too) are posted as messages. `interrupt()` is a terminal's Ctrl-C: SIGINT to the
whole process group, so the download step stops where it is and keeps its partial file.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from doctor.launch import exit_code_from_returncode
from doctor.tui import messages
from runner.events import decode

Post = Callable[[object], object]
POLL_S = 0.1


class InstallProcess:
    def __init__(self, args: list[str], post: Post, python: str = sys.executable):
        self._post = post
        self._folder = Path(tempfile.mkdtemp(prefix="drdoctor-install-"))
        self.events_path = self._folder / "events.ndjson"
        self.argv = [python, "-m", "doctor", "install", "--yes", "--no-check", "--events", str(self.events_path), *args]
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                     start_new_session=True)
        self._offset = 0
        self._rest = b""

    def interrupt(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def _read_output(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._post(messages.InstallOutput([raw.decode("utf-8", "replace").rstrip("\n")]))

    def _read_events(self) -> None:
        """Post the events appended since the last call (a line still being written waits for the next)."""
        try:
            with self.events_path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return
        self._offset += len(chunk)
        *lines, self._rest = (self._rest + chunk).split(b"\n")
        for line in lines:
            event = decode(line)
            if event is not None:
                self._post(messages.InstallEvent(event))

    def stream(self) -> int:
        """Post what the installer says until it exits; returns its exit code (130 when interrupted)."""
        reader = threading.Thread(target=self._read_output, daemon=True)
        reader.start()
        try:
            while self.proc.poll() is None:
                self._read_events()
                time.sleep(POLL_S)
            reader.join(timeout=10)
            self._read_events()
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)
        code = exit_code_from_returncode(self.proc.returncode)
        self._post(messages.InstallExited(code))
        return code

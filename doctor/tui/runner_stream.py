"""Runs the runner through `doctor.launch.RunnerProcess` (as `drdoctor generate` does) and posts what it
says as messages.

`stream()` is called from a thread worker: stdout is read line by line and decoded there, off the UI
loop; stderr is drained by the launcher's own thread, which here also posts each line. Nothing here
touches a widget: everything goes through `post`.
"""

from __future__ import annotations

from typing import Callable

from doctor.launch import LaunchError, RunnerProcess
from doctor.tui import messages
from runner.events import decode

Post = Callable[[object], object]


class RunProcess(RunnerProcess):
    """One launched run; `interrupt()` (SIGINT) makes the runner stop at a safe point with exit 130."""

    def __init__(self, python: str, args: list[str], post: Post, *, env: dict[str, str] | None = None,
                 module: str = "runner"):
        self._post = post
        super().__init__(python, args, env=env, module=module)

    def _drain_stderr(self, echo=None) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stderr_tail.append(line)
            self._post(messages.RunLog([line]))

    def stream(self) -> int:
        """Post the events until stdout closes; returns the documented exit code."""
        self._post(messages.RunLaunched(list(self.argv), self.proc.pid))
        for raw in self.lines():
            event = decode(raw)
            if event is None:
                text = raw.decode("utf-8", "replace").rstrip("\n")
                if text:
                    self._post(messages.RunLog([f"(stdout, not an event) {text}"]))
            elif event["type"] == "stage_progress":
                self._post(messages.StageProgress(event))
            else:
                self._post(messages.RunEvent(event))
        code = self.wait()
        self._post(messages.RunExited(code, list(self.stderr_tail)))
        return code


def launch(python: str, args: list[str], post: Post, *, env: dict[str, str] | None = None,
           module: str = "runner") -> RunProcess | None:
    """Start the runner; on failure to start, posts the reason and an exit and returns None."""
    try:
        return RunProcess(python, args, post, env=env, module=module)
    except LaunchError as exc:
        post(messages.RunLog([str(exc)]))
        post(messages.RunExited(127, [str(exc)]))
        return None

"""Where the container's runner events go: the same renderer as a local run (`doctor.run_view.RunView`), its
paths turned back into the host's (`/out/song.wav` is printed as `OUTPUT/song.wav`), or, with `--json`, the
raw event lines exactly as the runner wrote them (container paths; `--host-paths`: re-encoded with the host's)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from runner.events import encode


class JsonView:
    """`--json`: every event line exactly as the runner wrote it (`raw`), one per line."""

    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stdout

    def raw(self, line: bytes) -> None:
        self.out.write(line.decode("utf-8", errors="replace").rstrip("\r") + "\n")
        self.out.flush()

    def feed(self, event: dict[str, Any]) -> None:
        self.out.write(encode(event) + "\n")
        self.out.flush()

    def close(self) -> None:
        pass


class HostPaths:
    """Feeds `inner` each event with every container path in it (a value, or inside a message) made the host's."""

    def __init__(self, inner, to_host: Callable[[str], str]):
        self.inner, self.to_host = inner, to_host

    def _host(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.to_host(value)
        if isinstance(value, list):
            return [self._host(v) for v in value]
        if isinstance(value, dict):
            return {k: self._host(v) for k, v in value.items()}
        return value

    def feed(self, event: dict[str, Any]) -> None:
        self.inner.feed(self._host(event))

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()


def make_view(json_mode: bool, out: TextIO | None = None, to_host: Callable[[str], str] | None = None):
    """`to_host`: container paths -> host paths in every event (the terminal view; `--json --host-paths`)."""
    if json_mode:
        view = JsonView(out)
    else:
        from doctor.run_view import RunView  # the renderer of `drdoctor generate`

        view = RunView(out or sys.stdout)
    return HostPaths(view, to_host) if to_host else view

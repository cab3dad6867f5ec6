"""Where the container's runner events go: the same renderer as a local run (`doctor.run_view.RunView`),
or, with `--json`, the raw event lines exactly as the runner wrote them."""

from __future__ import annotations

import sys
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


def make_view(json_mode: bool, out: TextIO | None = None):
    if json_mode:
        return JsonView(out)
    from doctor.run_view import RunView  # the renderer of `drdoctor generate`

    return RunView(out or sys.stdout)

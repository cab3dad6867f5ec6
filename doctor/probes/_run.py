"""The one way probes run a program: an argument list, a timeout, and None instead of an exception."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping


def run(
    argv: list[str], timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str] | None:
    """The finished process (any exit status), or None when it could not start or ran past `timeout`."""
    try:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            errors="replace",
        )
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None

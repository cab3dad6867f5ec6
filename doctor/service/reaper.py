"""`python -m doctor.service.reaper`: stops a dead worker's runner.

The runner runs in a session of its own (so a terminal's Ctrl-C reaches only drdoctor), which also means
it outlives a worker killed with SIGKILL and would go on writing while another worker retries the job.
The worker starts this small process with a pipe and writes `+PGID` / `-PGID` lines as runners start and
end; when the pipe closes without `bye` (the worker died), each runner left gets SIGINT (it stops at a
step boundary, keeping what it can resume from), then SIGKILL after a grace period (`--grace S`: longer for a
container worker, whose launcher stops and removes its container on that SIGINT).
"""

from __future__ import annotations

import os
import signal
import sys
import time

GRACE_S = 5.0


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_groups(groups: set[int], grace: float = GRACE_S) -> None:
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGINT)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(g) for g in groups):
        time.sleep(0.05)
    for pgid in groups:
        if _alive(pgid):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def main(argv: list[str]) -> int:
    grace = float(argv[argv.index("--grace") + 1]) if "--grace" in argv else GRACE_S
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C to the worker's group is the worker's business
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    groups: set[int] = set()
    for line in sys.stdin:
        line = line.strip()
        if line == "bye":
            return 0
        if line[:1] in "+-" and line[1:].isdigit():
            (groups.add if line[0] == "+" else groups.discard)(int(line[1:]))
    stop_groups(groups, grace)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

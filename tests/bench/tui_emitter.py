"""A stand-in runner for the TUI benchmark: writes valid events at a fixed rate on stdout.

    python -m tests.bench.tui_emitter RATE SECONDS

Mostly `stage_progress` of a long sampling stage (what a fast GPU run looks like), with a `check`
and a `warning` every 100 events and a stderr line every 50; every event's `t` is its write time, so
the consumer can measure how late it handles it.
"""

from __future__ import annotations

import sys
import time

from runner.events import STAGES, encode, make_event


def main() -> int:
    rate, seconds = float(sys.argv[1]), float(sys.argv[2])
    total = int(rate * seconds)
    run = "bench"
    out = sys.stdout

    def emit(kind: str, **fields) -> None:
        out.write(encode(make_event(kind, run, **fields)) + "\n")

    emit("run_started", request={"style": "bench"}, device="cpu", dtype="float32", versions={})
    for stage in STAGES[:4]:
        emit("stage_started", stage=stage, total=None, unit=None)
        emit("stage_finished", stage=stage, seconds=0.0)
    emit("stage_started", stage="sample", total=total, unit="step")
    out.flush()
    start = time.perf_counter()
    for i in range(1, total + 1):
        emit("stage_progress", stage="sample", done=i, total=total)
        if i % 100 == 0:
            emit("check", stage="sample", name=f"latents_{i // 100 % 20}", ok=True, value=i, limit=None, message="")
            emit("warning", stage="sample", message=f"warning {i}")
        if i % 50 == 0:
            print(f"stderr line {i}", file=sys.stderr, flush=True)
        out.flush()
        # pace: sleep until this event's slot (busy loops would steal the UI's core on a 2-core box)
        ahead = start + i / rate - time.perf_counter()
        if ahead > 0.001:
            time.sleep(ahead)
    emit("stage_finished", stage="sample", seconds=time.perf_counter() - start)
    for stage in STAGES[5:]:
        emit("stage_started", stage=stage, total=None, unit=None)
        emit("stage_finished", stage=stage, seconds=0.0)
    emit("run_finished", ok=True, exit_code=0, output="bench.wav", seconds=time.perf_counter() - start)
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

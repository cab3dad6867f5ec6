"""How the app holds up under a flood of runner events (run as a script, not by pytest):

    .venv/bin/python tests/bench/bench_tui_events.py [--rate 2000] [--seconds 4]

A stand-in runner (tests/bench/tui_emitter.py) writes events at RATE per second; the generate screen
reads them through the same path as a real run (RunnerProcess subprocess -> reader thread worker ->
messages -> the screen's handlers -> widgets), in a real App (headless, 80x24). Measured side by side:

- event latency: from the emitter writing an event (its `t`) to the screen handling it;
- loop lag: how late a 60 Hz timer on the UI loop fires (what a user feels as stutter);
- key latency: from a key press to its action running, while events stream;
- frames: screen updates composed per second;
- handled: messages that reached the screen (progress messages coalesce when the UI is behind).

Each load is run with coalescing (`StageProgress.can_replace`) on and off, plus an idle baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from textual.binding import Binding  # noqa: E402

from doctor.tui import messages  # noqa: E402
from doctor.tui.app import DrDoctorApp  # noqa: E402
from doctor.tui.options import TuiOptions  # noqa: E402
from doctor.tui.screens.generate import GenerateScreen  # noqa: E402


class Meter:
    def __init__(self) -> None:
        self.latency: list[float] = []
        self.ticks: list[float] = []
        self.frames = 0
        self.keys: list[float] = []
        self.key_sent = 0.0


METER = Meter()


class MeteredGenerate(GenerateScreen):
    """The real screen; these handlers run before the screen's own (Textual calls both)."""

    BINDINGS = [Binding("f12", "ping", "ping", show=False)]

    def action_ping(self) -> None:
        METER.keys.append(time.perf_counter() - METER.key_sent)

    def on_stage_progress(self, message: messages.StageProgress) -> None:
        METER.latency.append(time.time() - message.event["t"])

    def on_run_event(self, message: messages.RunEvent) -> None:
        METER.latency.append(time.time() - message.event["t"])


class BenchApp(DrDoctorApp):
    MODES = {**DrDoctorApp.MODES, "generate": MeteredGenerate}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one(rate: float, seconds: float, coalesce: bool) -> dict:
    global METER
    METER = Meter()
    original = messages.StageProgress.can_replace
    if not coalesce:
        messages.StageProgress.can_replace = lambda self, message: False
    app = BenchApp(TuiOptions(autostart_checkup=False, python=sys.executable), mode="generate")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            display = app._display

            def counting(screen, renderable):
                if renderable is not None:
                    METER.frames += 1
                return display(screen, renderable)

            app._display = counting
            last = [time.perf_counter()]

            def tick() -> None:
                now = time.perf_counter()
                METER.ticks.append(now - last[0])
                last[0] = now

            app.set_interval(1 / 60, tick)
            screen = app.screen
            started = time.perf_counter()
            if rate:
                screen.start([str(rate), str(seconds)], module="tests.bench.tui_emitter")
            await pilot.pause(0.3)
            while True:
                METER.key_sent = time.perf_counter()
                await pilot.press("f12")
                await pilot.pause(0.2)
                if rate == 0 and time.perf_counter() - started > seconds:
                    break
                if rate and not screen.running:
                    break
            wall = time.perf_counter() - started
            done = screen.state.stages["sample"].done if rate else 0
            expected = int(rate * seconds)
    finally:
        messages.StageProgress.can_replace = original
    ticks = METER.ticks[5:]
    return {
        "rate": rate, "coalesce": coalesce, "wall": wall, "handled": len(METER.latency),
        "events": expected, "final_done": done,
        "lat_p50": pct(METER.latency, 0.5) * 1000, "lat_p99": pct(METER.latency, 0.99) * 1000,
        "lat_max": max(METER.latency, default=float("nan")) * 1000,
        "lag_p99": (pct(ticks, 0.99) - 1 / 60) * 1000, "lag_max": (max(ticks, default=0) - 1 / 60) * 1000,
        "key_p50": statistics.median(METER.keys) * 1000, "key_max": max(METER.keys) * 1000,
        "fps": METER.frames / wall,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, action="append", help="events per second (repeatable)")
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args()
    rates = args.rate or [2000.0, 5000.0]
    rows = [asyncio.run(one(0, args.seconds, True))]
    for rate in rates:
        rows.append(asyncio.run(one(rate, args.seconds, True)))
        rows.append(asyncio.run(one(rate, args.seconds, False)))
    head = (f"{'events/s':>8} {'coalesce':>8} {'handled':>8} {'bar end':>8} {'lat p50':>8} {'lat p99':>8} "
            f"{'lag p99':>8} {'lag max':>8} {'key p50':>8} {'key max':>8} {'frames/s':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        end = f"{r['final_done']}/{r['events']}" if r["rate"] else "-"
        print(f"{r['rate']:>8.0f} {('on' if r['coalesce'] else 'off'):>8} {r['handled']:>8} {end:>8} "
              f"{r['lat_p50']:>6.1f}ms {r['lat_p99']:>6.1f}ms {r['lag_p99']:>6.1f}ms {r['lag_max']:>6.1f}ms "
              f"{r['key_p50']:>6.1f}ms {r['key_max']:>6.1f}ms {r['fps']:>8.1f}")
    base = rows[0]
    print()
    for rate in rates:
        on = next(r for r in rows if r["rate"] == rate and r["coalesce"])
        off = next(r for r in rows if r["rate"] == rate and not r["coalesce"])
        print(f"{rate:.0f}/s: loop lag p99 under load / idle = {max(on['lag_p99'], 0.1) / max(base['lag_p99'], 0.1):.1f}x; "
              f"event latency p99 without / with coalescing = {off['lat_p99'] / on['lat_p99']:.1f}x; "
              f"messages handled with / without = {on['handled'] / max(off['handled'], 1):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

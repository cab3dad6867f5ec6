"""Helpers for the app's tests: waiting on the app, moving a table's cursor, replaying recorded runs."""

from __future__ import annotations

import time
from pathlib import Path

FIXTURE_ENV = {"PATH": "/nonexistent", "HOME": "/home/alice", "USER": "alice"}
DATA = Path(__file__).parent / "data"


async def wait_until(pilot, predicate, timeout: float = 30.0, step: float = 0.05, shown=None) -> None:
    """Wait for predicate(); on a timeout the error carries shown() (what the app showed), when given."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app" + (f"; it showed:\n{shown()}" if shown else ""))
        await pilot.pause(step)


def checkup_options_for(root: Path):
    """The same options object `run_checkup` takes, pointed at a fixture machine and nothing else."""
    from doctor.checkup import CheckupOptions
    from doctor.probes.nvml import recorded

    return CheckupOptions(root=root, python="/nonexistent/python", env=dict(FIXTURE_ENV), config={},
                          nvml=recorded(root / "nvml.json"))


async def select_row(pilot, table, key: str, limit: int = 80) -> None:
    """Move the table's cursor to the row `key` with the arrow keys, as a person would."""
    table.focus()
    await pilot.pause()
    for _ in range(limit):
        if table.cursor_row == 0:
            break
        await pilot.press("up")
    current = None
    for _ in range(limit):
        current = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if current == key:
            return
        await pilot.press("down")
    raise AssertionError(f"row {key} not reached; at {current!r}, rows {[r.value for r in table.rows]}")


def recorded_events(run: str) -> list[dict]:
    """The events of a recorded run folder under tests/tui/data/recorded (real runner output, ids fixed)."""
    import json

    path = DATA / "recorded" / run / "events.ndjson"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


async def replay(pilot, screen, run: str, until=None) -> None:
    """Feed a recorded run through the generate screen's message path, as the reader worker would;
    with `until(event)`, stop before the first event it accepts (the run is then still going)."""
    from textual.widgets import ContentSwitcher

    from doctor.tui import messages

    screen.query_one(ContentSwitcher).current = "run"
    events = recorded_events(run)
    if until is not None:
        events = events[: next((i for i, e in enumerate(events) if until(e)), len(events))]
        screen.running = True
    for event in events:
        kind = messages.StageProgress if event["type"] == "stage_progress" else messages.RunEvent
        screen.post_message(kind(event))
    if until is None:
        finished = next((e for e in events if e["type"] == "run_finished"), None)
        screen.post_message(messages.RunExited(finished["exit_code"] if finished else 1, []))
    await pilot.pause()
    screen._redraw()  # what the 15 Hz redraw would show next
    await pilot.pause()



def write_song(path: Path, seconds: float, rate: int = 44100) -> Path:
    """A real 16-bit stereo WAV (a few tones with a slow swell) for the edit and continue modes; stdlib
    only, so the app's tests import no torch."""
    import array
    import math
    import wave

    samples = array.array("h")
    for i in range(int(seconds * rate)):
        t = i / rate
        value = sum(math.sin(2 * math.pi * f * t) for f in (220.0, 330.0, 550.0)) / 3
        value *= 0.3 * (0.6 + 0.4 * math.sin(2 * math.pi * 0.5 * t))
        samples.extend((int(value * 32767), int(value * 0.8 * 32767)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


async def paste_into(pilot, selector: str, text: str) -> None:
    """Click the field, empty it and paste `text` as a terminal delivers a paste (one `Paste` event):
    the field gets the same text as typing it, without a key press per character."""
    from textual import events
    from textual.widgets import Input

    await pilot.click(selector)
    field = pilot.app.screen.query_one(selector, Input)
    field.value = ""
    field.post_message(events.Paste(text))
    await pilot.pause()
    assert field.value == text, (selector, field.value)


def toasts(app) -> list[str]:
    """The notifications the app is showing."""
    return [str(n.message) for n in app._notifications]


def screen_lines(app) -> list[str]:
    """The screen as the terminal shows it, one string per row (what a person reads)."""
    return ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]


def screen_styles(app) -> list[list]:
    """Per row, (text, rich Style) of each painted segment: the colors a person sees."""
    return [[(segment.text, segment.style) for segment in strip] for strip in app.screen._compositor.render_strips()]

"""Untimed lyrics -> LRC: plain lines timed over the song (torch-free; the phone counts come from the g2p).

Input: one sung line per line; section tags (`[verse]`, `[chorus]`, `[bridge]`, `[inst]`, `[outro]`, ...)
and blank lines are breaks; LRC metadata tags (`[ti:...]`) are ignored. The song gets an intro before
the first line and a margin before its end; each break is a pause (an instrumental tag such as `[inst]`
a longer one); the time left is shared among the lines in proportion to their phone counts (the g2p's
ids plus the "." each line ends with: one latent frame per token). For the base model, whose last LRC
line is never sung (DIFFRHYTHM.md step 1), an empty closing line is added so every real line is sung.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from runner.errors import BadInput
from runner.timefmt import format_seconds
from runner.lrc import METADATA_TAGS, parse_lrc

FRAMES_PER_S = 44100 / 2048
_SECTION = re.compile(r"^\[\s*([A-Za-z][A-Za-z0-9 _-]*)\s*\]$")
_META = re.compile(r"^\[([A-Za-z#][A-Za-z0-9_#-]*)\s*:.*\]$")
LONG_BREAKS = frozenset({"inst", "instrumental", "interlude", "solo", "break"})
INTRO_SHARE, INTRO_MAX = 0.10, 10.0
END_SHARE, END_MAX = 0.05, 5.0
PAUSE_SHARE, PAUSE_MAX = 0.02, 2.0
LONG_PAUSE = 4  # pauses


@dataclass(frozen=True)
class TimedLine:
    start: float
    text: str
    lineno: int
    phones: int  # tokens the line takes (g2p ids + the closing ".")


@dataclass(frozen=True)
class _Line:
    text: str
    lineno: int
    pauses_before: int


def _untimed(text: str) -> list[_Line]:
    lines: list[_Line] = []
    pending = 0
    for lineno, raw in enumerate(text.replace("\ufeff", "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            pending = max(pending, 1)
            continue
        section = _SECTION.match(line)
        if section:
            name = section.group(1).strip().lower()
            pending = max(pending, LONG_PAUSE if name.split()[0] in LONG_BREAKS else 1)
            continue
        meta = _META.match(line)
        if meta and meta.group(1).lower() in METADATA_TAGS:
            continue
        lines.append(_Line(line, lineno, pending if lines else 0))
        pending = 0
    return lines


def _stamp(seconds: float) -> str:
    centis = int(round(seconds * 100))
    return f"[{centis // 6000:02d}:{centis % 6000 // 100:02d}.{centis % 100:02d}]"


def time_lyrics(text: str, tokenize: Callable[[str], list[int]], length_s: float, *, source: str = "lyrics",
                end_marker: bool = False) -> tuple[list[TimedLine], str]:
    """(timed lines, the LRC text). BadInput naming `source` when there is nothing to sing or no room."""
    lines = _untimed(text)
    if not lines:
        raise BadInput(f"{source} holds no line to sing", "write one sung line per line (or leave --lyrics out)")
    intro = min(INTRO_MAX, INTRO_SHARE * length_s)
    margin = min(END_MAX, END_SHARE * length_s)
    pause = min(PAUSE_MAX, PAUSE_SHARE * length_s)
    phones = [len(tokenize(line.text)) + 1 for line in lines]
    singing = length_s - intro - margin - pause * sum(line.pauses_before for line in lines)
    need = sum(phones) / FRAMES_PER_S
    if singing < need:
        raise BadInput(
            f"{source}: {len(lines)} lines of {sum(phones)} phones need at least {format_seconds(need)} of singing; "
            f"a {format_seconds(length_s)} song leaves {format_seconds(max(singing, 0))} after the intro, pauses "
            "and ending",
            "give a longer --length, or fewer lines",
        )
    per_phone = singing / sum(phones)
    timed, at = [], intro
    for line, count in zip(lines, phones):
        at += pause * line.pauses_before
        timed.append(TimedLine(at, line.text, line.lineno, count))
        at += count * per_phone
    rows = [f"{_stamp(t.start)}{t.text}" for t in timed]
    if end_marker:
        rows.append(_stamp(length_s - margin))
    return timed, "\n".join(rows) + "\n"


def is_untimed(text: str) -> bool:
    """No time-stamped line, and at least one line of words."""
    parsed = parse_lrc(text)
    return not parsed.lines and any(issue.untimed for issue in parsed.skipped)


def refuse_mixed(text: str, source: str) -> None:
    """BadInput naming the lines when some lines have time stamps and others are words without one."""
    parsed = parse_lrc(text)
    untimed = [issue.lineno for issue in parsed.skipped if issue.untimed]
    if parsed.lines and untimed:
        shown = ", ".join(str(n) for n in untimed[:10]) + (" ..." if len(untimed) > 10 else "")
        many = len(untimed) > 1
        raise BadInput(f"{source} mixes timed and untimed lines: line{'s' if many else ''} {shown} "
                       f"{'have' if many else 'has'} no time stamp (lines {parsed.lines[0].lineno}... have one)",
                       "give every line a time stamp like [00:12.34], or none (they are then timed over the song)")

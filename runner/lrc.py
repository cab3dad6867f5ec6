"""Timed lyrics (LRC) -> lines with start times, and a reason for every line that is not used.

Torch-free: the TUI previews parsed lyrics with it.

Accepted time stamps: `[mm:ss]`, `[m:ss]`, `[mm:ss.x]`, `[mm:ss.xx]`, `[mm:ss.xxx]` (and `:` in place of
the `.`, which some editors write). Several stamps in front of one text (`[00:10.00][01:20.00]chorus`)
give one line per stamp. Word-timing tags of "enhanced" LRC (`<mm:ss.xx>`) are removed from the text.
A stamp with no text is kept as a line with empty text: upstream keeps such lines too (they become a
lone "." token, a pause in the lyrics).

Metadata tags (`[ar:...]`, `[ti:...]`, `[al:...]`, `[by:...]`, `[length:...]`, `[re:...]`, `[ve:...]`,
`[offset:...]`) are collected in `ParsedLrc.metadata`, not reported as skipped. `[offset:+/-ms]` IS
honoured, as the LRC convention says: a positive offset makes every line start that many
milliseconds earlier (clamped at 0). Upstream ignores it; with no offset tag the start times are
computed exactly as upstream computes them (minutes * 60 + float(seconds)).

The result is sorted by start time (stable: lines with the same start keep their file order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_STAMP = re.compile(r"\[(\d{1,3}):(\d{1,2})(?:[.:](\d{1,3}))?\]")
_LEADING_STAMPS = re.compile(r"^(?:\s*\[\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?\])+")
_TAG = re.compile(r"^\s*\[([A-Za-z#][A-Za-z0-9_#-]*)\s*:(.*)\]\s*$")
_WORD_TIMING = re.compile(r"<\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?>")
_OFFSET = re.compile(r"^\s*([+-]?\d+)\s*$")

METADATA_TAGS = frozenset({"ar", "ti", "al", "au", "by", "length", "re", "tool", "ve", "offset", "#"})


@dataclass(frozen=True)
class LyricLine:
    start: float  # seconds from the start of the song
    text: str
    lineno: int  # 1-based line number in the file


@dataclass(frozen=True)
class LrcIssue:
    lineno: int
    message: str
    untimed: bool = False  # a line of words with no time stamp (untimed lyrics, or a mix)


@dataclass(frozen=True)
class ParsedLrc:
    lines: tuple[LyricLine, ...]
    skipped: tuple[LrcIssue, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    offset_ms: int = 0  # the honoured [offset:] value (0 when absent)


def _seconds(minutes: str, seconds: str, fraction: str | None) -> float:
    # The same arithmetic as upstream for the same text: int(mm) * 60 + float("ss.xx").
    secs = f"{seconds}.{fraction}" if fraction is not None else seconds
    return int(minutes) * 60 + float(secs)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_lrc(text: str) -> ParsedLrc:
    if text.startswith("\ufeff"):
        text = text[1:]
    stamped: list[tuple[float, str, int]] = []
    skipped: list[LrcIssue] = []
    metadata: dict[str, str] = {}
    offset_ms = 0

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.replace("\ufeff", "").strip()
        if not line:
            continue
        lead = _LEADING_STAMPS.match(line)
        if lead is None:
            tag = _TAG.match(line)
            if tag and tag.group(1).lower() in METADATA_TAGS:
                name, value = tag.group(1).lower(), tag.group(2).strip()
                if name == "offset":
                    m = _OFFSET.match(value)
                    if m is None:
                        skipped.append(LrcIssue(lineno, f"[offset:{value}] is not a whole number of milliseconds; ignored"))
                        continue
                    offset_ms = int(m.group(1))
                metadata[name] = value
            elif tag:
                skipped.append(LrcIssue(lineno, f"unknown tag [{_short(tag.group(1))}:...]; not a time stamp"))
            elif line.startswith("["):
                close = line.find("]")
                stamp = line[: close + 1] if close > 0 else line
                skipped.append(LrcIssue(lineno, f"{_short(stamp)} is not a time stamp like [mm:ss.xx]"))
            else:
                skipped.append(LrcIssue(lineno, f"no time stamp: {_short(line)!r}", untimed=True))
            continue
        stamps = _STAMP.findall(lead.group(0))
        lyric = _WORD_TIMING.sub("", line[lead.end():]).strip()
        bad = [f"[{m}:{s}]" for m, s, _ in stamps if int(s) >= 60]
        if bad:
            skipped.append(LrcIssue(lineno, f"time stamp {bad[0]} has 60 or more seconds"))
            continue
        for minutes, seconds, fraction in stamps:
            stamped.append((_seconds(minutes, seconds, fraction or None), lyric, lineno))

    lines = []
    for start, lyric, lineno in stamped:
        if offset_ms:
            start = max(0.0, start - offset_ms / 1000.0)
        lines.append(LyricLine(start=start, text=lyric, lineno=lineno))
    lines.sort(key=lambda item: item.start)  # stable
    return ParsedLrc(lines=tuple(lines), skipped=tuple(skipped), metadata=metadata, offset_ms=offset_ms)

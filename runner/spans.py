"""Song-editing spans: `--regenerate 10:25`, `start:12`, `50:end`, or upstream's JSON `[[10,25],[50,-1]]`.

Torch-free. A span is given in seconds; it becomes latent frames with upstream's expression
`int(s * 44100 / 2048)` (the end `end` / -1 is the song's last frame). Every bad span is a BadInput that
names the span as the user wrote it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from runner.errors import BadInput
from runner.timefmt import format_seconds

SAMPLE_RATE = 44100
SAMPLES_PER_FRAME = 2048
REMEDY = "spans are START:END in seconds, e.g. --regenerate 10:25 --regenerate 50:end (or '[[10,25],[50,-1]]')"


@dataclass(frozen=True)
class Span:
    start_s: float
    end_s: float | None  # None: to the song's end
    text: str  # as the user wrote it, for messages

    def frames(self, song_frames: int) -> tuple[int, int]:
        start = int(self.start_s * SAMPLE_RATE / SAMPLES_PER_FRAME)
        end = song_frames if self.end_s is None else int(self.end_s * SAMPLE_RATE / SAMPLES_PER_FRAME)
        return start, end


def _seconds(value: object, text: str, *, end: bool) -> float | None:
    if isinstance(value, str):
        word = value.strip().lower()
        if word == ("end" if end else "start"):
            return None if end else 0.0
        try:
            value = float(word)
        except ValueError:
            raise BadInput(f"--regenerate {text!r}: {value!r} is not a number of seconds", REMEDY) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadInput(f"--regenerate {text!r}: {value!r} is not a number of seconds", REMEDY)
    if value == -1:  # upstream's JSON form: -1 is the song's start or end
        return None if end else 0.0
    if value < 0:
        raise BadInput(f"--regenerate {text!r}: {format_seconds(value)} is negative", REMEDY)
    return float(value)


def _one(text: str, start: object, end: object) -> Span:
    span = Span(_seconds(start, text, end=False) or 0.0, _seconds(end, text, end=True), text)
    if span.end_s is not None and span.end_s <= span.start_s:
        raise BadInput(f"--regenerate {text!r}: the end ({format_seconds(span.end_s)}) is not after the start "
                       f"({format_seconds(span.start_s)})", REMEDY)
    return span


def parse_spans(texts: Iterable[str]) -> list[Span]:
    """Syntax only: each text is START:END or a JSON list of [start, end] pairs."""
    spans: list[Span] = []
    for text in texts:
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                pairs = json.loads(stripped)
            except ValueError as exc:
                raise BadInput(f"--regenerate {text!r} is not valid JSON ({exc.msg})", REMEDY) from None
            if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs) or not pairs:
                raise BadInput(f"--regenerate {text!r}: expected a list of [start, end] pairs", REMEDY)
            spans += [_one(json.dumps(p), p[0], p[1]) for p in pairs]
            continue
        start, sep, end = stripped.partition(":")
        if not sep or not start or not end:
            raise BadInput(f"--regenerate {text!r}: expected START:END", REMEDY)
        spans.append(_one(text, start, end))
    return spans


def span_frames(spans: Sequence[Span], end_s: float, song_frames: int, end_text: str | None = None
                ) -> list[tuple[int, int]]:
    """(start_frame, end_frame) per span, sorted; BadInput for a span past `end_s`, empty, or overlapping.

    `end_text` says in messages what `end_s` is: the song's end by default, or the end of an edit shorter
    than its song."""
    placed = []
    end_text = end_text or f"the song's end ({format_seconds(end_s)})"
    for span in spans:
        if span.start_s >= end_s:
            raise BadInput(f"--regenerate {span.text!r} starts at {format_seconds(span.start_s)}, at or after "
                           f"{end_text}", REMEDY)
        if span.end_s is not None and span.end_s > end_s + 1e-6:
            raise BadInput(f"--regenerate {span.text!r} ends at {format_seconds(span.end_s)}, after {end_text}; "
                           "'end' stands for the last frame", REMEDY)
        start, end = span.frames(song_frames)
        end = min(end, song_frames)
        if end <= start:
            frame_ms = SAMPLES_PER_FRAME / SAMPLE_RATE * 1000
            raise BadInput(f"--regenerate {span.text!r} is shorter than one latent frame ({frame_ms:.0f} ms)", REMEDY)
        placed.append((start, end, span))
    placed.sort(key=lambda item: item[0])
    for (s0, e0, a), (s1, _e1, b) in zip(placed, placed[1:]):
        if s1 < e0:
            raise BadInput(f"--regenerate {a.text!r} and {b.text!r} overlap", "give spans that do not overlap "
                           "(one longer span covers both)")
    return [(s, e) for s, e, _ in placed]

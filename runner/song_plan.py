"""What a run makes of an existing song: a new song (none), an edit (--edit SONG --regenerate ...) or a
continuation (--continue SONG --length L). Settled in preflight from the song's length alone.

- edit: the song is cut to the run's length (default: the song's own length, in whole seconds where the
  model needs them); only the spans are sampled, every other frame is the song's.
- continue: the song's frames are kept and the span from its end to the new end is sampled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from runner.components import BASE_MAX_FRAMES, SAMPLE_RATE, SAMPLES_PER_FRAME
from runner.errors import BadInput
from runner.spans import parse_spans, span_frames
from runner.timefmt import format_seconds
from runner.tokens import BASE_LENGTH_S, FULL_MAX_LENGTH_S, FULL_MIN_LENGTH_S


@dataclass(frozen=True)
class SongPlan:
    mode: str  # "new" | "edit" | "continue"
    path: str | None = None
    song_s: float | None = None
    song_frames: int = 0  # whole latent frames in the song
    spans: tuple[tuple[int, int], ...] | None = None  # frames to sample; None = all
    keep_frames: int = 0  # frames of the song the run encodes and keeps

    def as_dict(self) -> dict:
        return {"mode": self.mode, "song": self.path, "song_seconds": self.song_s,
                "spans_frames": [list(s) for s in self.spans] if self.spans is not None else None}


def song_frames(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE)) // SAMPLES_PER_FRAME


def mode_of(request) -> str:
    return "edit" if request.edit else "continue" if request.continue_song else "new"


def edit_default_length(path: str, song_s: float, bundle_longest: float | None) -> float:
    """--length for an edit when not given: the song's own length, as the model allows it."""
    if bundle_longest is not None:
        return min(song_s, bundle_longest)
    if song_s >= FULL_MIN_LENGTH_S:
        return float(min(math.floor(song_s), FULL_MAX_LENGTH_S))
    if song_frames(song_s) >= BASE_MAX_FRAMES:
        return float(BASE_LENGTH_S)
    raise BadInput(f"song to edit {path} is {format_seconds(song_s)} long: DiffRhythm edits songs of at least "
                   f"{format_seconds(BASE_MAX_FRAMES * SAMPLES_PER_FRAME / SAMPLE_RATE)} (the base model's 2048 "
                   "frames)",
                   "give a longer song")


def plan_song(request, song_s: float | None, length_s: float, frames: int) -> SongPlan:
    mode = mode_of(request)
    if mode == "new":
        return SongPlan("new")
    assert song_s is not None
    have = song_frames(song_s)
    if mode == "edit":
        path = request.edit
        if have < frames:
            raise BadInput(f"song to edit {path} is {format_seconds(song_s)} long, shorter than the "
                           f"{format_seconds(length_s)} ({frames} frames) this edit makes",
                           "leave --length out (the song's own length) or give a shorter --length")
        end_s = frames * SAMPLES_PER_FRAME / SAMPLE_RATE
        shorter = f"the end of this edit ({format_seconds(end_s)} of the {format_seconds(song_s)} song)"
        spans = span_frames(parse_spans(request.regenerate), min(end_s, song_s), frames,
                            None if song_s <= end_s else shorter)
        return SongPlan("edit", path, song_s, have, tuple(spans), frames)
    path = request.continue_song
    if have < 1:
        raise BadInput(f"song to continue {path} is {format_seconds(song_s)} long: not one latent frame "
                       f"({SAMPLES_PER_FRAME / SAMPLE_RATE * 1000:.0f} ms)", "give a longer song")
    if have >= frames:
        raise BadInput(f"song to continue {path} is already {format_seconds(song_s)} long; --length "
                       f"{format_seconds(length_s)} must be longer than the song",
                       f"e.g. --length {min(FULL_MAX_LENGTH_S, math.ceil(song_s) + 30)}")
    return SongPlan("continue", path, song_s, have, ((have, frames),), have)

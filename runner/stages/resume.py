"""The resume table: what a resumed run reuses from its folder, and so which stages it skips.

A run folder is resumed from the furthest artifact it holds. Every stage that only leads up to that
artifact is skipped (and says so); the load stage loads only the model parts the later stages need.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner.artifacts import AUDIO_RAW, LATENTS

FRESH_PARTS = ("dit", "vae", "style")  # what a new run loads


@dataclass(frozen=True)
class ResumePoint:
    name: str  # recorded in the manifest as resumed_from
    needs: tuple[str, ...]  # run-folder files that must all be there
    skips: tuple[str, ...]  # stages not run
    model_parts: tuple[str, ...]  # what the load stage loads; () = load is skipped too


# furthest first
RESUME_POINTS = (
    ResumePoint("audio_raw", (AUDIO_RAW, LATENTS), ("load", "lyrics", "style", "sample", "decode"), ()),
    ResumePoint("latents", (LATENTS,), ("lyrics", "style", "sample"), ("vae",)),
)


def resume_point(folder: Path) -> ResumePoint | None:
    """The furthest point the run folder can be resumed from (None: it runs every stage again)."""
    for point in RESUME_POINTS:
        if all((folder / name).is_file() for name in point.needs):
            return point
    return None

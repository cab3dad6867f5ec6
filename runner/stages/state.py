"""A run's state: what was asked, where it writes, what preflight settled, and the record the manifest keeps.

The values the stages make (model parts, tokens, latents, audio) are not here: each stage returns them.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch

from runner.emit import Emitter
from runner.errors import RunError
from runner.interrupt import Stopper
from runner.precision import Precision
from runner.request import Request
from runner.song_plan import SongPlan
from runner.stages.resume import FRESH_PARTS, ResumePoint

log = logging.getLogger("runner")

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class Plan:
    """What preflight settled: device, precision, frame counts, where things go, what a resume reuses."""

    device: torch.device
    precision: Precision
    max_frames: int
    length_s: float
    frames: int
    out: Path
    lyrics_text: str | None = None
    resume: ResumePoint | None = None
    song: SongPlan = field(default_factory=lambda: SongPlan("new"))
    outs: tuple[Path, ...] = ()  # one output per candidate (NAME-k.wav for a batch)
    passes: tuple[int, ...] = (1,)  # candidates per sampling pass
    style_reused: tuple[torch.Tensor, str] | None = None  # --style-embedding / --style-from, read in preflight

    @property
    def resume_from(self) -> str | None:
        return self.resume.name if self.resume else None

    def skips(self, stage: str) -> bool:
        return self.resume is not None and stage in self.resume.skips

    @property
    def model_parts(self) -> tuple[str, ...]:
        return self.resume.model_parts if self.resume else FRESH_PARTS

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.precision.dtype]


@dataclass
class Sampled:
    latents: torch.Tensor  # [candidates, frames, 64]
    dead: dict[int, str] = field(default_factory=dict)  # candidate index (0-based) -> why it failed sampling


class StageHandle:
    """Yielded by `Run.stage`: `skip(reason)` marks the stage as skipped (a resumed run reuses its artifact)."""

    def __init__(self) -> None:
        self.skipped: str | None = None

    def skip(self, reason: str) -> None:
        self.skipped = reason


@dataclass
class Run:
    request: Request
    folder: Path
    emitter: Emitter
    stopper: Stopper
    versions: dict[str, str]
    plan: Plan | None = None  # set once preflight has settled it (the manifest records it)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    extra_manifest: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    output: dict[str, Any] | None = None
    written: list[Path] = field(default_factory=list)  # songs written at their output paths
    current_stage: str = "preflight"

    def warn(self, stage: str, message: str) -> None:
        log.warning("%s: %s", stage, message)
        self.warnings.append({"stage": stage, "message": message})
        self.emitter.emit("warning", stage=stage, message=message)

    def progress(self, stage: str, done: int, total: int | None) -> None:
        self.emitter.emit("stage_progress", stage=stage, done=done, total=total)

    def check_stop(self) -> None:
        """Between units of work: Ctrl-C, the deadline, or an event log the full disk stopped."""
        self.stopper.check()
        self.emitter.check()

    @contextmanager
    def stage(self, name: str, total: int | None = None, unit: str | None = None) -> Iterator[StageHandle]:
        self.check_stop()
        self.current_stage = name
        self.emitter.emit("stage_started", stage=name, total=total, unit=unit)
        log.info("stage %s", name)
        start = time.monotonic()
        handle = StageHandle()
        try:
            yield handle
        except RunError as exc:
            if exc.stage is None:
                exc.stage = name
            raise
        if handle.skipped is not None:
            self.timings[name] = 0.0
            self.emitter.emit("stage_finished", stage=name, seconds=0.0, skipped=True, reason=handle.skipped)
            return
        seconds = round(time.monotonic() - start, 4)
        self.timings[name] = seconds
        self.emitter.emit("stage_finished", stage=name, seconds=seconds)

    def skip_stage(self, name: str, reason: str, unit: str | None = None) -> None:
        with self.stage(name, unit=unit) as stage:
            stage.skip(reason)

    def discard_outputs(self) -> None:
        """A run that does not exit 0 leaves no song behind."""
        for path in self.written:
            path.unlink(missing_ok=True)
        self.written.clear()
        self.output = None

    def faults(self) -> dict[str, str]:
        result = {}
        for item in self.request.fault:
            key, _, value = item.partition(":")
            result[key] = value
        return result

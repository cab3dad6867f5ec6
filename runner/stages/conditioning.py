"""The lyrics and style stages: what the DiT is conditioned on (the token row and the style vector)."""

from __future__ import annotations

import torch

from runner import artifacts
from runner.components import BASE_MAX_FRAMES, Components
from runner.errors import EnvironmentProblem
from runner.lyrics_timing import is_untimed
from runner.stages.state import Plan, Run
from runner.timefmt import format_seconds, format_span


def lyrics(run: Run, plan: Plan, comps: Components) -> torch.Tensor:
    """The frame-aligned token row [frames] (all zeros for an instrumental)."""
    from runner.lrc import parse_lrc
    from runner.tokens import build_token_row

    with run.stage("lyrics"):
        lines: tuple = ()
        source = f"lyrics file {run.request.lyrics}"
        if plan.lyrics_text is not None:
            text = plan.lyrics_text
            parsed = parse_lrc(time_untimed_lyrics(run, plan, comps, text) if is_untimed(text) else text)
            for issue in parsed.skipped:
                run.warn("lyrics", f"LRC line {issue.lineno} skipped: {issue.message}")
            lines = parsed.lines
        row = build_token_row(lines, comps.tokenize, plan.length_s, plan.max_frames, source)
        for message in row.warnings:
            run.warn("lyrics", message)
        if row.end_frame != plan.frames:
            raise RuntimeError(f"token row has {row.end_frame} frames, preflight planned {plan.frames}")
        return row.tokens


def time_untimed_lyrics(run: Run, plan: Plan, comps: Components, text: str) -> str:
    """Plain lyric lines -> an LRC timed over the song, written to the run folder and reported."""
    from runner.lyrics_timing import time_lyrics

    if comps.tokenize is None:
        raise EnvironmentProblem("this install cannot turn lyrics into phonemes (it has no g2p)",
                                 "generate an instrumental (no lyrics), or use a checkout whose g2p works")
    timed, lrc = time_lyrics(text, comps.tokenize, plan.length_s, source=f"lyrics file {run.request.lyrics}",
                             end_marker=plan.max_frames == BASE_MAX_FRAMES)
    path = run.folder / artifacts.LYRICS_TIMED
    size = artifacts.save_atomic_text(path, lrc)
    run.emitter.emit("artifact", kind="lrc", path=str(path), bytes=size)
    run.emitter.emit("check", stage="lyrics", name="lyrics_timed", ok=True, value=len(timed), limit=None,
                     message=f"{len(timed)} untimed lines timed over {format_seconds(plan.length_s)} "
                     f"({format_span(timed[0].start, timed[-1].start)}): {path}")
    return lrc


def style(run: Run, plan: Plan, comps: Components) -> torch.Tensor:
    """The style vector [1, 512]: reused (--style-embedding / --style-from), cached, or computed."""
    from runner.locations import cache_dir
    from runner.style import compute_style

    with run.stage("style"):
        if plan.style_reused is not None:
            vector, where = plan.style_reused
            message = f"{where} (no style encoder loaded)"
        else:
            vector, cached = compute_style(run.request, comps, cache_dir() / "styles")
            message = "style vector from the cache" if cached else "style vector computed"
        run.emitter.emit("check", stage="style", name="style_vector", ok=True, value=round(float(vector.norm()), 4),
                         limit=None, message=message)
        size = artifacts.save_tensor(run.folder, artifacts.STYLE, vector)
        run.emitter.emit("artifact", kind="style", path=str(run.folder / artifacts.STYLE), bytes=size)
        return vector

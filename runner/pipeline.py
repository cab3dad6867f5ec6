"""The eight stages of a run, in order; a resumed run skips what the resume table says (runner/stages/resume.py).

Each stage is a function in runner/stages/ that takes what it needs and returns what it made.
"""

from __future__ import annotations

import platform

import torch

from runner.events import STAGES
from runner.stages.audio import decode_stage, reuse_audio, validate, write
from runner.stages.conditioning import lyrics, style
from runner.stages.model import load
from runner.stages.preflight import preflight
from runner.stages.sampling import reuse_latents, sample_stage
from runner.stages.state import Run

assert STAGES == ("preflight", "load", "lyrics", "style", "sample", "decode", "validate", "write")


def run_stages(run: Run) -> None:
    plan = run.plan = preflight(run)
    reused = f"reusing {plan.resume_from}.pt from the run folder"
    if plan.skips("load"):  # the table then skips every stage that needs a model (tests/runner/test_resume_table.py)
        run.skip_stage("load", f"{reused}: no model needed")
        run.skip_stage("lyrics", reused)
        run.skip_stage("style", reused)
        sampled = reuse_latents(run)
        audio = reuse_audio(run)
    else:
        comps, reference = load(run, plan)
        if plan.skips("sample"):  # lyrics and style only feed the sampler
            run.skip_stage("lyrics", reused)
            run.skip_stage("style", reused)
            sampled = reuse_latents(run)
        else:
            tokens = lyrics(run, plan, comps)
            vector = style(run, plan, comps)
            sampled = sample_stage(run, plan, comps, tokens, vector, reference)
        audio = reuse_audio(run) if plan.skips("decode") else decode_stage(run, plan, comps.vae, sampled.latents)
    good = validate(run, sampled, audio)
    write(run, plan, good, many=len(audio) > 1)
    run.emitter.check()


def versions() -> dict[str, str]:
    try:
        from importlib.metadata import version

        ours = version("drdoctor")
    except Exception:  # noqa: BLE001 - not installed as a distribution (a bare copy in a container)
        ours = "unknown"
    return {"python": platform.python_version(), "torch": torch.__version__, "drdoctor": ours}

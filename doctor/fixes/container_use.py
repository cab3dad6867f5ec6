"""`container.use`: hand over to the CUDA container when no working GPU torch can be had locally.

The container carries its own torch and CUDA runtime; the host needs only the NVIDIA driver and docker
with the NVIDIA container toolkit. `drdoctor container` (pull/run) does the work; this plan names it.
"""

from __future__ import annotations

import sys

from doctor.fixes.context import FixContext
from doctor.fixes.plan import CommandStep, Plan

FIX_ID = "container.use"
TITLE = "generate in the CUDA container instead of a local torch"


def drdoctor_argv(ctx: FixContext) -> list[str]:
    found = ctx.which("drdoctor")
    return [found] if found else [sys.executable, "-m", "doctor"]


def plan(ctx: FixContext) -> Plan:
    me = drdoctor_argv(ctx)
    models = ["--models", str(ctx.models_dirs[0])] if ctx.models_dirs else ["--models", "DIR"]
    generate = [*me, "container", "run", "generate", "--lyrics", "SONG.lrc", "--style", "TEXT", *models]
    notes = (
        "then make songs with: " + " ".join(generate),
        "the host needs the NVIDIA driver and docker with the NVIDIA container toolkit; `drdoctor check` says whether both work",
    )
    if ctx.container_ready:
        return Plan(FIX_ID, TITLE, done_reason="the container image is already here", notes=notes)
    step = CommandStep(tuple([*me, "container", "pull"]), "pull drdoctor's CUDA container image", timeout=3600)
    return Plan(FIX_ID, TITLE, steps=(step,), notes=notes)

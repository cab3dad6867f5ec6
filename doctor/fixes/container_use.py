"""`container.use`: hand over to the CUDA container when no working GPU torch can be had locally.

The container carries its own torch and CUDA runtime; the host needs only the NVIDIA driver and docker
with the NVIDIA container toolkit. drdoctor's image is published in no registry, so the plan builds it on
this engine (`drdoctor container build`), in the CUDA flavour this driver runs (the rule of `torch.cuda_match`).
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


def flavour_for(ctx: FixContext) -> tuple[str | None, str]:
    """(the newest image flavour this driver runs, or the default without a driver; None when the driver starts
    none, with what to do)."""
    from doctor.container.flavour_match import Driver, fitting_flavour, no_flavour_remedy
    from doctor.container.images import load_flavours

    flavours = load_flavours()
    driver = Driver(ctx.driver_cuda, ctx.driver_version, wsl=ctx.platform == "wsl2")
    if not ctx.driver_cuda:
        return flavours["default"], ""
    fitting = fitting_flavour(driver, flavours)
    return fitting, "" if fitting else no_flavour_remedy(driver, flavours)


def plan(ctx: FixContext) -> Plan:
    me = drdoctor_argv(ctx)
    flavour, remedy = flavour_for(ctx)
    if flavour is None:
        return Plan(FIX_ID, TITLE, blocked=remedy)
    image = f"drdoctor:{flavour}"
    models = ["--models", str(ctx.models_dirs[0])] if ctx.models_dirs else ["--models", "DIR"]
    generate = [*me, "container", "run", "generate", "--image", image, "--lyrics", "SONG.lrc", "--style", "TEXT", *models]
    notes = (
        "then make songs with: " + " ".join(generate),
        "the host needs the NVIDIA driver and docker with the NVIDIA container toolkit; `drdoctor check` says whether both work",
    )
    if ctx.container_ready:
        return Plan(FIX_ID, TITLE, done_reason="the container image is already here", notes=notes)
    step = CommandStep((*me, "container", "build", "--flavour", flavour),
                       f"build drdoctor's CUDA container image {image} on this engine (its base image is pulled)",
                       timeout=3600)
    return Plan(FIX_ID, TITLE, steps=(step,), notes=notes)

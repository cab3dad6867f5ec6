"""The sample stage: the DiT's flow from noise to latents, checked after every step, saved for --resume."""

from __future__ import annotations

import math

import torch

from runner import artifacts
from runner.acceleration import batched_guidance, guidance_every, note_sampled
from runner.components import LATENT_CHANNELS, Components
from runner.errors import InvalidOutput
from runner.sampler import sample
from runner.stages.state import Plan, Run, Sampled
from runner.validate import COLLAPSED_STD


def check_step(done: int, steps: int, x: torch.Tensor) -> None:
    """After each sampling step: the latents must be finite and not collapsed (exit 4 naming the step)."""
    spread = float(x.std())  # one reduction: NaN/Inf anywhere makes it non-finite
    if not math.isfinite(spread):
        raise InvalidOutput(f"the latents turned NaN/Inf at step {done} of {steps}",
                            "retry with --dtype float32; if it persists the DiT checkpoint is damaged "
                            "(`drdoctor check --deep`)")
    if spread < COLLAPSED_STD:
        raise InvalidOutput(f"the latents collapsed to a constant at step {done} of {steps}",
                            "the DiT checkpoint does not fit or is damaged: `drdoctor check --deep`")


def sample_stage(run: Run, plan: Plan, comps: Components, tokens: torch.Tensor, style: torch.Tensor,
                 reference: torch.Tensor | None) -> Sampled:
    r = run.request
    total = (r.steps - 1) * len(plan.passes)
    with run.stage("sample", total=total, unit="step"):
        frames = plan.frames
        cond = reference if reference is not None else torch.zeros(1, frames, LATENT_CHANNELS)
        spans = list(plan.song.spans) if plan.song.spans is not None else None
        dead: dict[int, str] = {}
        parts, offset = [], 0
        for number, size in enumerate(plan.passes):
            base = number * (r.steps - 1)

            def on_step(done: int, steps: int, x: torch.Tensor, offset: int = offset, base: int = base) -> None:
                check_rows(run, dead, done, steps, x, offset)
                run.progress("sample", base + done, total)
                run.check_stop()

            parts.append(sample(
                comps.transformer, cond, tokens, style, comps.negative_style,
                torch.tensor([0.0]), torch.tensor([frames / plan.max_frames]), r.steps, r.cfg, r.seed + offset,
                spans, on_step, batch=size, guidance_every=guidance_every(run), batched_guidance=batched_guidance(run),
            ).cpu())
            offset += size
        note_sampled(run, comps.transformer)
        if len(dead) == r.batch:  # every candidate failed: nothing worth keeping
            raise InvalidOutput("every candidate failed while sampling: " + "; ".join(
                f"candidate {k + 1}: {why}" for k, why in sorted(dead.items())),
                "retry with --dtype float32 or other seeds; if it persists the DiT checkpoint is damaged "
                "(`drdoctor check --deep`)")
        latents = torch.cat(parts)
        size = artifacts.save_latents(run.folder, latents, r)
        run.emitter.emit("artifact", kind="latents", path=str(run.folder / artifacts.LATENTS), bytes=size)
        return Sampled(latents, dead)


def reuse_latents(run: Run) -> Sampled:
    """A resumed run's latents.pt, in the sample stage it skips."""
    with run.stage("sample", unit="step") as stage:
        latents = artifacts.load_latents(run.folder)
        if latents.ndim == 2:
            latents = latents.unsqueeze(0)
        stage.skip(f"reusing latents.pt from the run folder ({latents.shape[1]} frames)")
        return Sampled(latents)


def check_rows(run: Run, dead: dict[int, str], done: int, steps: int, x: torch.Tensor, offset: int) -> None:
    """After each step, per candidate: a single run stops at the first bad step (exit 4 naming it); in a batch
    the bad candidate is recorded in `dead` and reported by index, and the others go on."""
    if run.request.batch == 1:
        check_step(done, steps, x)
        return
    for j in range(x.shape[0]):
        k = offset + j
        if k in dead:
            continue
        try:
            check_step(done, steps, x[j])
        except InvalidOutput as exc:
            dead[k] = exc.message.replace("the latents", "its latents")
            run.warn("sample", f"candidate {k + 1} (seed {run.request.seed + k}): {dead[k]}; the others go on")

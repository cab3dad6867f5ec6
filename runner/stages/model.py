"""The load stage: the model parts the run needs (a resumed run loads only what its later stages use), and,
for an edit or a continuation, the encoded song (DESIGN.md has no encode stage: it is part of load)."""

from __future__ import annotations

import torch

from runner import artifacts
from runner.acceleration import accelerate_run
from runner.components import SAMPLE_RATE, SAMPLES_PER_FRAME, Components
from runner.decode import DECODE_OVERLAP, DECODE_WINDOW
from runner.stages.state import Plan, Run
from runner.timefmt import format_span

FRAME_S = SAMPLES_PER_FRAME / SAMPLE_RATE


def load(run: Run, plan: Plan) -> tuple[Components, torch.Tensor | None]:
    """(the components, the reference latent [1, frames, 64] of an edit / continuation or None)."""
    r = run.request
    with run.stage("load"):
        parts = plan.model_parts
        if r.bundle:
            from runner.bundle.load import load_bundle

            torch.set_num_threads(1)  # the bundle's networks are tiny: threads cost more than they give
            comps = load_bundle(r.bundle, device=plan.device, dtype=plan.dtype, faults=run.faults(), parts=parts,
                                scratch=run.folder / "faults", emit_warning=lambda m: run.warn("load", m))
        else:
            from runner.checkout import load_diffrhythm

            comps = load_diffrhythm(r.diffrhythm, r.model_paths(), plan.length_s, plan.device, plan.dtype,
                                    lambda m: run.warn("load", m), parts=parts)
        for message in comps.warnings:
            run.warn("load", message)
        for info in comps.files:
            run.emitter.emit("check", stage="load", name=f"file_{info['role']}", ok=True, value=info["bytes"],
                             limit=None, message=f"{info['path']} sha256 {info['sha256'][:16]}...")
        run.files = list(comps.files)
        if "dit" in parts:
            accelerate_run(run, comps)  # --accel: torch.compile where it pays (runner/acceleration.py)
        if plan.resume is not None:
            run.warn("load", f"reusing {plan.resume.needs[0]} from the run folder: lyrics, style and sampling are "
                     "skipped" + (" and the DiT was not loaded" if r.bundle else ""))
            return comps, None
        if plan.song.mode == "new":
            return comps, None
        return comps, encode_reference(run, plan, comps)


def encode_reference(run: Run, plan: Plan, comps: Components) -> torch.Tensor:
    """The song to edit or continue -> the reference latent [1, frames, 64] (zeros past a continued song's end);
    its progress events say part="encode"."""
    from runner.reference import reference_latent

    def on_chunk(done: int, total: int) -> None:
        run.emitter.emit("stage_progress", stage="load", done=done, total=total, unit="chunk", part="encode")
        run.check_stop()

    song = plan.song
    what = "song to edit" if song.mode == "edit" else "song to continue"
    cond = reference_latent(comps.vae, song.path, what, song.keep_frames, plan.frames, run.request.seed,
                            plan.device, DECODE_WINDOW, DECODE_OVERLAP, on_chunk)
    size = artifacts.save_tensor(run.folder, artifacts.REFERENCE, cond)
    run.emitter.emit("artifact", kind="reference_latents", path=str(run.folder / artifacts.REFERENCE), bytes=size)
    spans = ", ".join(format_span(a * FRAME_S, b * FRAME_S) for a, b in song.spans or ())
    run.emitter.emit("check", stage="load", name="reference_song", ok=True, value=song.keep_frames,
                     limit=plan.frames, message=f"{song.path}: {song.keep_frames} frames encoded; sampling {spans}")
    return cond

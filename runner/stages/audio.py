"""The decode, validate and write stages: latents -> audio -> checks -> the song files at their output paths."""

from __future__ import annotations

import os
import signal

import torch

from runner import artifacts
from runner.acceleration import record_acceleration
from runner.components import SAMPLE_RATE, SAMPLES_PER_FRAME
from runner.decode import DECODE_OVERLAP, DECODE_WINDOW, decode, plan_windows
from runner.errors import InvalidOutput
from runner.stages.state import Plan, Run, Sampled
from runner.validate import Check, check_audio, check_latents
from runner.wavio import normalise, write_wav_atomic

Audio = list[torch.Tensor | None]  # per candidate [2, samples]; None: not decoded (it failed while sampling)


def decode_stage(run: Run, plan: Plan, vae: object, latents: torch.Tensor) -> Audio:
    r = run.request
    frames = latents.shape[1]
    live = [k for k in range(latents.shape[0]) if bool(torch.isfinite(latents[k]).all())]
    if latents.shape[0] == 1:
        live = [0]  # a single song is decoded whatever it holds: validation names what is wrong
    windows = len(plan_windows(frames, DECODE_WINDOW, DECODE_OVERLAP)) if r.chunked else 1
    with run.stage("decode", total=windows * len(live), unit="chunk"):
        audio: Audio = [None] * latents.shape[0]
        for n, k in enumerate(live):
            def on_chunk(done: int, total: int, n: int = n) -> None:
                run.progress("decode", n * total + done, total * len(live))
                run.check_stop()

            audio[k] = decode(vae, latents[k : k + 1].to(plan.device), chunked=r.chunked, on_chunk=on_chunk,
                              on_retry=lambda m: run.warn("decode", m))
        if len(audio) == 1:
            stored = audio[0]
        else:
            samples = frames * SAMPLES_PER_FRAME
            stored = torch.stack([a if a is not None else torch.zeros(2, samples) for a in audio])
        size = artifacts.save_audio(run.folder, stored)
        run.emitter.emit("artifact", kind="audio_raw", path=str(run.folder / artifacts.AUDIO_RAW), bytes=size)
        return audio


def reuse_audio(run: Run) -> Audio:
    """A resumed run's audio_raw.pt, in the decode stage it skips (a candidate stored as zeros was not decoded)."""
    with run.stage("decode") as stage:
        stored = artifacts.load_audio(run.folder)
        stage.skip("reusing audio_raw.pt from the run folder")
        return [stored] if stored.ndim == 2 else [a if bool(a.abs().sum()) else None for a in stored]


def validate(run: Run, sampled: Sampled, audio: Audio) -> list[tuple[int, torch.Tensor]]:
    """(candidate index 0-based, its audio) of those that passed (a song not decoded fails); exit 4 if none did."""
    r = run.request
    many = len(audio) > 1
    with run.stage("validate"):
        record_acceleration(run)  # what the sampling ran with; a lossy --accel is named in the table
        failures: dict[int, str] = {}
        for k, song in enumerate(audio):
            found = check_latents(sampled.latents[k])
            if song is not None:
                found += check_audio(song)
            elif not any(c.failed for c in found):
                found.append(Check("decoded", False, None, "decoded", "not decoded: it failed while sampling"))
            extra = {"candidate": k + 1, "seed": r.seed + k} if many else {}
            for check in found:
                run.checks.append({**check.as_dict(), **extra})
                run.emitter.emit("check", stage="validate", name=check.name, ok=check.ok, value=check.value,
                                 limit=check.limit, message=check.message, severity=check.severity, **extra)
                if not check.ok and check.severity == "warn":
                    run.warn("validate", (f"candidate {k + 1}: " if many else "") + check.message)
            failed = [c for c in found if c.failed]
            if failed:
                failures[k] = "; ".join(c.message for c in failed)
            run.candidates.append({"index": k + 1, "seed": r.seed + k, "ok": not failed, "output": None,
                                   "checks": [c.as_dict() for c in found],
                                   "failure": failures.get(k) or sampled.dead.get(k)})
        if many:
            run.extra_manifest["candidates"] = run.candidates
            for k, why in failures.items():
                run.warn("validate",
                         f"candidate {k + 1} (seed {r.seed + k}) failed validation: {why}; it is not written")
        if len(failures) == len(audio):
            # a resumed run must decode again (after the VAE or device is fixed), not reuse this audio
            artifacts.reject_audio(run.folder)
            if many:
                raise InvalidOutput("every candidate failed validation: " + "; ".join(
                    f"candidate {k + 1}: {why}" for k, why in failures.items()),
                    "nothing was written. Check the model files (`drdoctor check --deep`), retry with "
                    "--dtype float32 or other seeds")
            raise InvalidOutput(
                "the song failed validation: " + failures[0],
                "nothing was written. Check the model files (`drdoctor check --deep`), retry with "
                "--dtype float32 or another --seed",
            )
        return [(k, song) for k, song in enumerate(audio) if song is not None and k not in failures]


def write(run: Run, plan: Plan, good: list[tuple[int, torch.Tensor]], many: bool) -> None:
    faults = run.faults()
    with run.stage("write", total=None, unit="sample"):
        def on_chunk(done: int, total: int) -> None:
            if "kill_in_write" in faults and done < total:
                os.kill(os.getpid(), signal.SIGKILL)  # a hard kill half way: the output path must stay empty
            if "crash" in faults:
                raise RuntimeError("fault crash: failing while the WAV is half written")

        try:
            for k, song in good:
                normalised = normalise(song)
                path = plan.outs[k] if plan.outs else plan.out
                size = write_wav_atomic(path, normalised, chunk_frames=1 << 16, on_chunk=on_chunk)
                run.written.append(path)
                entry = {"path": str(path), "bytes": size, "seconds": round(normalised.shape[1] / SAMPLE_RATE, 3)}
                if run.output is None:
                    run.output = entry
                if run.candidates:
                    run.candidates[k]["output"] = entry
                run.emitter.emit("artifact", kind="wav", path=str(path), bytes=size,
                                 **({"candidate": k + 1} if many else {}))
        except BaseException:
            run.discard_outputs()
            raise
        if many:
            run.extra_manifest["outputs"] = [str(p) for p in run.written]

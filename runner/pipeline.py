"""The eight stages of a run, in order, each reporting events; artifacts saved so `--resume` can skip work."""

from __future__ import annotations

import logging
import math
import os
import platform
import shutil
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch

from runner import artifacts
from runner.components import LATENT_CHANNELS, SAMPLE_RATE, SAMPLES_PER_FRAME, Components
from runner.decode import decode, plan_windows
from runner.emit import Emitter
from runner.errors import BadInput, EnvironmentProblem, InvalidOutput, RunError
from runner.events import STAGES
from runner.interrupt import Stopper
from runner.precision import Precision, choose_dtype, cpu_flags
from runner.request import Request
from runner.sampler import sample
from runner.validate import COLLAPSED_STD, check_audio, check_latents
from runner.wavio import normalise, write_wav_atomic

log = logging.getLogger("runner")

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DEFAULT_LENGTH_S = 95.0
DECODE_WINDOW, DECODE_OVERLAP = 128, 32


class Skipped(Exception):
    """Raised inside a stage block to mark it skipped (a resumed run reuses its artifact)."""


@dataclass
class Plan:
    """What preflight settled: device, precision, frame counts, where things go."""

    device: torch.device
    precision: Precision
    max_frames: int
    length_s: float
    frames: int
    out: Path
    lyrics_text: str | None = None
    resume_from: str | None = None  # "audio_raw" | "latents" | None


@dataclass
class Run:
    request: Request
    folder: Path
    emitter: Emitter
    stopper: Stopper
    versions: dict[str, str]
    plan: Plan | None = None
    components: Components | None = None
    tokens: torch.Tensor | None = None
    style: torch.Tensor | None = None
    latents: torch.Tensor | None = None
    audio: torch.Tensor | None = None
    timings: dict[str, float] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    output: dict[str, Any] | None = None
    current_stage: str = "preflight"

    # --- events -----------------------------------------------------------------------------------

    def warn(self, stage: str, message: str) -> None:
        log.warning("%s: %s", stage, message)
        self.warnings.append({"stage": stage, "message": message})
        self.emitter.emit("warning", stage=stage, message=message)

    def progress(self, stage: str, done: int, total: int | None) -> None:
        self.emitter.emit("stage_progress", stage=stage, done=done, total=total)

    @contextmanager
    def stage(self, name: str, total: int | None = None, unit: str | None = None) -> Iterator[None]:
        self.stopper.check()
        self.current_stage = name
        self.emitter.emit("stage_started", stage=name, total=total, unit=unit)
        log.info("stage %s", name)
        start = time.monotonic()
        try:
            yield
        except Skipped as skip:
            self.timings[name] = 0.0
            self.emitter.emit("stage_finished", stage=name, seconds=0.0, skipped=True, reason=str(skip))
            return
        except RunError as exc:
            if exc.stage is None:
                exc.stage = name
            raise
        seconds = round(time.monotonic() - start, 4)
        self.timings[name] = seconds
        self.emitter.emit("stage_finished", stage=name, seconds=seconds)

    def faults(self) -> dict[str, str]:
        result = {}
        for item in self.request.fault:
            key, _, value = item.partition(":")
            result[key] = value
        return result


# --- preflight ---------------------------------------------------------------------------------------


def resolve_device(asked: str) -> torch.device:
    has_cuda = torch.cuda.is_available()
    if asked == "auto":
        return torch.device("cuda" if has_cuda else "cpu")
    if asked == "cpu":
        return torch.device("cpu")
    if not has_cuda:
        build = torch.version.cuda
        why = "it is a CPU-only build" if build is None else f"its CUDA {build} runtime finds no usable GPU"
        raise EnvironmentProblem(
            f"--device {asked} asked, but torch {torch.__version__} cannot use CUDA: {why}",
            "run `drdoctor check` for the GPU and torch findings, or use --device cpu",
        )
    device = torch.device(asked)
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise EnvironmentProblem(
            f"--device {asked}: this machine has {torch.cuda.device_count()} CUDA device(s)",
            "use --device cuda:0 (or `nvidia-smi -L` to list them)",
        )
    return device


def choose_precision(request: Request, device: torch.device) -> Precision:
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    return choose_dtype(device.type, request.dtype, cpu_flags(), cuda_bf16)


def _bundle_max_frames(root: Path) -> int:
    from runner.bundle.load import read_manifest

    return int(read_manifest(root)["max_frames"])


def _lengths(request: Request) -> tuple[int, float, int]:
    """(max_frames, length in seconds, frames)."""
    from runner.tokens import end_frame_for, max_frames_for

    if request.bundle:
        max_frames = _bundle_max_frames(Path(request.bundle))
        longest = max_frames * SAMPLES_PER_FRAME / SAMPLE_RATE
        length = longest if request.length is None else float(request.length)
        if not (1.0 <= length <= longest + 1e-9):
            raise BadInput(
                f"--length {length:g} s: this bundle makes 1-{longest:.2f} s", "leave --length out for the bundle"
            )
    else:
        length = DEFAULT_LENGTH_S if request.length is None else float(request.length)
        max_frames = max_frames_for(length)
    return max_frames, length, max(1, end_frame_for(length, max_frames))


def _readable(path_text: str, what: str) -> Path:
    path = Path(path_text)
    if not path.is_file():
        raise BadInput(f"{what} {path} does not exist" if not path.exists() else f"{what} {path} is not a file",
                       f"give the path of the {what}")
    if not os.access(path, os.R_OK):
        raise BadInput(f"{what} {path} cannot be read (permissions)", f"make {path} readable")
    return path


def _writable_folder(folder: Path, what: str) -> None:
    if not folder.is_dir():
        raise BadInput(f"{what} folder {folder} does not exist", f"create {folder} or choose another path")
    try:
        probe = folder / f".drdoctor-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BadInput(f"{what} folder {folder} is not writable ({exc.strerror})", "choose a folder you can write") from None


def _disk_check(run: Run, folder: Path, need: int, what: str) -> None:
    free = shutil.disk_usage(folder).free
    ok = free >= need * 1.1
    run.emitter.emit("check", stage="preflight", name=f"disk_{what}", ok=ok, value=free, limit=need,
                     message=f"{free / 2**20:.0f} MiB free in {folder}, the {what.replace('_', ' ')} needs {need / 2**20:.1f} MiB")
    if not ok:
        raise EnvironmentProblem(f"not enough disk space in {folder}: {free / 2**20:.0f} MiB free, "
                                 f"{need / 2**20:.1f} MiB needed for the {what.replace('_', ' ')}", f"free space in {folder}")


def preflight(run: Run) -> None:
    r = run.request
    with run.stage("preflight"):
        if r.bundle:
            if not Path(r.bundle).is_dir():
                raise EnvironmentProblem(f"bundle folder {r.bundle} does not exist",
                                         "build it: python -m runner.bundle build DIR")
        elif not Path(r.diffrhythm or "").is_dir():
            raise EnvironmentProblem(f"DiffRhythm checkout {r.diffrhythm} does not exist",
                                     "give --diffrhythm the checkout folder (or run `drdoctor fix`)")
        if not r.style and not r.ref_audio and not r.resume:
            raise BadInput("no style given", "give --style TEXT or --ref-audio CLIP")
        lyrics_text = None
        if r.lyrics:
            path = _readable(r.lyrics, "lyrics file")
            try:
                lyrics_text = path.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError as exc:
                raise BadInput(f"lyrics file {path} is not UTF-8 text (byte {exc.start})",
                               "save the .lrc file as UTF-8") from None
        if r.ref_audio:
            _readable(r.ref_audio, "reference clip")
        max_frames, length, frames = _lengths(r)
        out = Path(r.out)
        if out.is_dir():
            raise BadInput(f"--out {out} is a folder", "give a file name, e.g. --out song.wav")
        _writable_folder(out.parent, "output")
        device = resolve_device(r.device)
        precision = choose_precision(r, device)
        run.emitter.emit("check", stage="preflight", name="device", ok=True, value=str(device), limit=r.device,
                         message=f"running on {device}")
        run.emitter.emit("check", stage="preflight", name="dtype", ok=True, value=precision.dtype, limit=r.dtype,
                         message=f"{precision.dtype}: {precision.reason}")
        if precision.warning:
            run.warn("preflight", precision.warning)
        samples = frames * SAMPLES_PER_FRAME
        _disk_check(run, out.parent, samples * 2 * 2 + 64, "output")
        _disk_check(run, run.folder, samples * 2 * 4 + frames * LATENT_CHANNELS * 4 + (1 << 16), "run_folder")
        if out.exists():
            run.warn("preflight", f"{out} exists: it is replaced only if this run succeeds")
        run.plan = Plan(device, precision, max_frames, length, frames, out, lyrics_text,
                        artifacts.resumable(run.folder) if r.resume else None)


# --- the model stages -----------------------------------------------------------------------------


def load(run: Run) -> None:
    r, plan = run.request, run.plan
    assert plan is not None
    dtype = DTYPES[plan.precision.dtype]
    with run.stage("load"):
        if plan.resume_from == "audio_raw":
            raise Skipped("reusing audio_raw.pt from the run folder: no model needed")
        if r.bundle:
            from runner.bundle.load import load_bundle

            torch.set_num_threads(1)  # the bundle's networks are tiny: threads cost more than they give
            parts = ("vae",) if plan.resume_from == "latents" else ("dit", "vae", "style")
            comps = load_bundle(r.bundle, device=plan.device, dtype=dtype, faults=run.faults(), parts=parts,
                                scratch=run.folder / "faults", emit_warning=lambda m: run.warn("load", m))
        else:
            from runner.checkout import load_diffrhythm

            comps = load_diffrhythm(r.diffrhythm, r.model_paths(), plan.length_s, plan.device, dtype,
                                    lambda m: run.warn("load", m))
        for message in comps.warnings:
            run.warn("load", message)
        for info in comps.files:
            run.emitter.emit("check", stage="load", name=f"file_{info['role']}", ok=True, value=info["bytes"],
                             limit=None, message=f"{info['path']} sha256 {info['sha256'][:16]}...")
        run.files = list(comps.files)
        run.components = comps
        if plan.resume_from == "latents":
            run.warn("load", "reusing latents.pt from the run folder: lyrics, style and sampling are skipped"
                     + (" and the DiT was not loaded" if r.bundle else ""))


def lyrics(run: Run) -> None:
    from runner.lrc import parse_lrc
    from runner.tokens import build_token_row

    plan, comps = run.plan, run.components
    assert plan is not None
    with run.stage("lyrics"):
        if plan.resume_from:
            raise Skipped(f"reusing {plan.resume_from}.pt from the run folder")
        assert comps is not None
        lines: tuple = ()
        if plan.lyrics_text is not None:
            parsed = parse_lrc(plan.lyrics_text)
            for issue in parsed.skipped:
                run.warn("lyrics", f"LRC line {issue.lineno} skipped: {issue.message}")
            if not parsed.lines:
                raise BadInput(f"no timed line could be read from {run.request.lyrics}",
                               "each line needs a time stamp like [00:12.34] then the words")
            lines = parsed.lines
        row = build_token_row(lines, comps.tokenize, plan.length_s, plan.max_frames)
        for message in row.warnings:
            run.warn("lyrics", message)
        if row.end_frame != plan.frames:
            raise RuntimeError(f"token row has {row.end_frame} frames, preflight planned {plan.frames}")
        run.tokens = row.tokens


def style(run: Run) -> None:
    from runner.style import compute_style
    from runner.weights import cache_dir

    plan, comps = run.plan, run.components
    assert plan is not None
    with run.stage("style"):
        if plan.resume_from:
            raise Skipped(f"reusing {plan.resume_from}.pt from the run folder")
        assert comps is not None
        vector, cached = compute_style(run.request, comps, cache_dir() / "styles")
        run.style = vector
        run.emitter.emit("check", stage="style", name="style_vector", ok=True, value=round(float(vector.norm()), 4),
                         limit=None, message="style vector from the cache" if cached else "style vector computed")


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


def sample_stage(run: Run) -> None:
    r, plan, comps = run.request, run.plan, run.components
    assert plan is not None
    total = r.steps - 1
    with run.stage("sample", total=None if plan.resume_from else total, unit="step"):
        if plan.resume_from:
            run.latents = artifacts.load_latents(run.folder)
            raise Skipped(f"reusing latents.pt from the run folder ({run.latents.shape[1]} frames)")
        assert comps is not None and run.tokens is not None and run.style is not None
        frames = plan.frames

        def on_step(done: int, steps: int, x: torch.Tensor) -> None:
            check_step(done, steps, x)
            run.progress("sample", done, steps)
            run.stopper.check()

        cond = torch.zeros(1, frames, LATENT_CHANNELS, device=plan.device)
        latents = sample(
            comps.transformer, cond, run.tokens, run.style, comps.negative_style,
            torch.tensor([0.0]), torch.tensor([frames / plan.max_frames]), r.steps, r.cfg, r.seed, None, on_step,
        )
        run.latents = latents.cpu()
        size = artifacts.save_latents(run.folder, run.latents, r)
        run.emitter.emit("artifact", kind="latents", path=str(run.folder / artifacts.LATENTS), bytes=size)


def decode_stage(run: Run) -> None:
    r, plan, comps = run.request, run.plan, run.components
    assert plan is not None
    if plan.resume_from == "audio_raw":
        with run.stage("decode"):
            run.audio = artifacts.load_audio(run.folder)
            raise Skipped("reusing audio_raw.pt from the run folder")
        return
    assert comps is not None and run.latents is not None
    frames = run.latents.shape[1]
    windows = len(plan_windows(frames, DECODE_WINDOW, DECODE_OVERLAP)) if r.chunked else 1
    with run.stage("decode", total=windows, unit="chunk"):
        def on_chunk(done: int, total: int) -> None:
            run.progress("decode", done, total)
            run.stopper.check()

        run.audio = decode(comps.vae, run.latents.to(plan.device), chunked=r.chunked, window=DECODE_WINDOW,
                           overlap=DECODE_OVERLAP, on_chunk=on_chunk, on_retry=lambda m: run.warn("decode", m))
        size = artifacts.save_audio(run.folder, run.audio)
        run.emitter.emit("artifact", kind="audio_raw", path=str(run.folder / artifacts.AUDIO_RAW), bytes=size)


def validate(run: Run) -> None:
    with run.stage("validate"):
        found = []
        if run.latents is not None:
            found += check_latents(run.latents)
        assert run.audio is not None
        found += check_audio(run.audio)
        for check in found:
            run.checks.append(check.as_dict())
            run.emitter.emit("check", stage="validate", name=check.name, ok=check.ok, value=check.value,
                             limit=check.limit, message=check.message, severity=check.severity)
            if not check.ok and check.severity == "warn":
                run.warn("validate", check.message)
        failed = [c for c in found if c.failed]
        if failed:
            # a resumed run must decode again (after the VAE or device is fixed), not reuse this audio
            artifacts.reject_audio(run.folder)
            raise InvalidOutput(
                "the song failed validation: " + "; ".join(c.message for c in failed),
                "nothing was written. Check the model files (`drdoctor check --deep`), retry with "
                "--dtype float32 or another --seed",
            )


def write(run: Run) -> None:
    plan = run.plan
    assert plan is not None and run.audio is not None
    faults = run.faults()
    with run.stage("write", total=None, unit="sample"):
        audio = normalise(run.audio)

        def on_chunk(done: int, total: int) -> None:
            if "kill_in_write" in faults and done < total:
                os.kill(os.getpid(), signal.SIGKILL)  # a hard kill half way: the output path must stay empty
            if "crash" in faults:
                raise RuntimeError("fault crash: failing while the WAV is half written")

        size = write_wav_atomic(plan.out, audio, chunk_frames=1 << 16, on_chunk=on_chunk)
        run.output = {"path": str(plan.out), "bytes": size, "seconds": round(audio.shape[1] / SAMPLE_RATE, 3)}
        run.emitter.emit("artifact", kind="wav", path=str(plan.out), bytes=size)


def run_stages(run: Run) -> None:
    preflight(run)
    load(run)
    lyrics(run)
    style(run)
    sample_stage(run)
    decode_stage(run)
    validate(run)
    write(run)


assert STAGES == ("preflight", "load", "lyrics", "style", "sample", "decode", "validate", "write")


def versions() -> dict[str, str]:
    try:
        from importlib.metadata import version

        ours = version("drdoctor")
    except Exception:  # noqa: BLE001 - not installed as a distribution (a bare copy in a container)
        ours = "unknown"
    return {"python": platform.python_version(), "torch": torch.__version__, "drdoctor": ours}


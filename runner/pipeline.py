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
from runner.acceleration import accelerate_run, guidance_every, record_acceleration
from runner.components import LATENT_CHANNELS, SAMPLE_RATE, SAMPLES_PER_FRAME, Components
from runner.decode import decode, plan_windows
from runner.emit import Emitter
from runner.errors import BadInput, EnvironmentProblem, InvalidOutput, RunError
from runner.events import STAGES
from runner.interrupt import Stopper
from runner.precision import Precision, choose_dtype, cpu_flags
from runner.request import Request
from runner.sampler import sample
from runner.lyrics_timing import is_untimed, refuse_mixed
from runner.song_plan import SongPlan, plan_song
from runner.style import reused_style
from runner.validate import COLLAPSED_STD, Check, check_audio, check_latents
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
    song: SongPlan = field(default_factory=lambda: SongPlan("new"))
    outs: tuple[Path, ...] = ()  # one output per candidate (NAME-k.wav for a batch)
    passes: tuple[int, ...] = (1,)  # candidates per sampling pass
    style_reused: tuple[torch.Tensor, str] | None = None  # --style-embedding / --style-from, read in preflight


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
    latents: torch.Tensor | None = None  # [candidates, frames, 64]
    audio: list[torch.Tensor | None] | None = None  # per candidate [2, samples]; None: not decoded
    reference: torch.Tensor | None = None  # the encoded song (edit / continue): the sampler's cond
    dead: dict[int, str] = field(default_factory=dict)  # candidate index (0-based) -> why it failed sampling
    candidates: list[dict[str, Any]] = field(default_factory=list)
    extra_manifest: dict[str, Any] = field(default_factory=dict)
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


def _lengths(request: Request, song_s: float | None = None) -> tuple[int, float, int]:
    """(max_frames, length in seconds, frames); an edit's default length is its song's (`song_s`)."""
    from runner.song_plan import edit_default_length
    from runner.tokens import end_frame_for, max_frames_for

    given = request.length
    if given is None and request.edit and song_s is not None:
        longest = _bundle_max_frames(Path(request.bundle)) * SAMPLES_PER_FRAME / SAMPLE_RATE if request.bundle else None
        given = edit_default_length(request.edit, song_s, longest)
    if request.bundle:
        max_frames = _bundle_max_frames(Path(request.bundle))
        longest = max_frames * SAMPLES_PER_FRAME / SAMPLE_RATE
        length = longest if given is None else float(given)
        if not (1.0 <= length <= longest + 1e-9):
            raise BadInput(
                f"--length {length:g} s: this bundle makes 1-{longest:.2f} s", "leave --length out for the bundle"
            )
    else:
        length = DEFAULT_LENGTH_S if given is None else float(given)
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
        if not (r.style or r.ref_audio or r.style_embedding or r.style_from or r.resume):
            raise BadInput("no style given", "give --style TEXT, --ref-audio CLIP, --style-embedding FILE "
                           "or --style-from RUN_DIR")
        lyrics_text = None
        if r.lyrics:
            path = _readable(r.lyrics, "lyrics file")
            try:
                lyrics_text = path.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError as exc:
                raise BadInput(f"lyrics file {path} is not UTF-8 text (byte {exc.start})",
                               "save the .lrc file as UTF-8") from None
            refuse_mixed(lyrics_text, f"lyrics file {path}")
        if r.ref_audio:
            _readable(r.ref_audio, "reference clip")
        resume_from = artifacts.resumable(run.folder) if r.resume else None
        reused = None if resume_from else reused_style(r)
        song_s = None if resume_from else _song_seconds(r)
        max_frames, length, frames = _lengths(r, song_s)
        song = SongPlan("new") if resume_from else plan_song(r, song_s, length, frames)
        out = Path(r.out)
        if out.is_dir():
            raise BadInput(f"--out {out} is a folder", "give a file name, e.g. --out song.wav")
        _writable_folder(out.parent, "output")
        outs = (out,) if r.batch == 1 else tuple(out.with_name(f"{out.stem}-{k}{out.suffix}") for k in range(1, r.batch + 1))
        device = resolve_device(r.device)
        precision = choose_precision(r, device)
        run.emitter.emit("check", stage="preflight", name="device", ok=True, value=str(device), limit=r.device,
                         message=f"running on {device}")
        run.emitter.emit("check", stage="preflight", name="dtype", ok=True, value=precision.dtype, limit=r.dtype,
                         message=f"{precision.dtype}: {precision.reason}")
        if precision.warning:
            run.warn("preflight", precision.warning)
        samples = frames * SAMPLES_PER_FRAME
        _disk_check(run, out.parent, (samples * 2 * 2 + 64) * r.batch, "output")
        _disk_check(run, run.folder, (samples * 2 * 4 + frames * LATENT_CHANNELS * 4) * r.batch + (1 << 16), "run_folder")
        for path in outs:
            if path.exists():
                run.warn("preflight", f"{path} exists: it is replaced only if this run succeeds")
        passes = _batch_passes(run, device, precision.dtype, frames)
        run.plan = Plan(device, precision, max_frames, length, frames, out, lyrics_text, resume_from, song, outs,
                        passes, reused)
        run.extra_manifest["song"] = song.as_dict()


def _song_seconds(r: Request) -> float | None:
    from runner.clip import audio_seconds

    if not (r.edit or r.continue_song):
        return None
    path, what = (r.edit, "song to edit") if r.edit else (r.continue_song, "song to continue")
    _readable(path, what)
    return audio_seconds(path, what)


def _batch_passes(run: Run, device: torch.device, dtype: str, frames: int) -> tuple[int, ...]:
    """Split a batch into passes that fit the device's free memory (a --fault mem_available:BYTES overrides it)."""
    from runner.batchplan import free_memory, net_size, plan_batch

    r = run.request
    if r.batch == 1:
        return (1,)
    forced = r.fault_value("mem_available")
    available = int(float(forced)) if forced else free_memory(device.type, device.index)
    elem = torch.tensor([], dtype=DTYPES[dtype]).element_size()
    plan = plan_batch(r.batch, net_size(r.bundle, r.diffrhythm), frames, elem, available, guided=r.cfg >= 1e-5)
    fits = len(plan.passes) == 1
    run.emitter.emit(
        "check", stage="preflight", name="batch_memory", ok=fits, value=plan.need, limit=available,
        message=f"{r.batch} candidates need about {(plan.weights + plan.per_candidate * r.batch) / 2**20:.0f} MiB; "
        f"{'unknown' if available is None else f'{available / 2**20:.0f} MiB'} free"
        + ("" if fits else f": sampling in {len(plan.passes)} passes of {', '.join(map(str, plan.passes))}"),
        severity="warn", passes=list(plan.passes))
    if not fits:
        run.warn("preflight", f"the batch of {r.batch} does not fit in one pass: sampling in {len(plan.passes)} "
                 f"passes ({', '.join(map(str, plan.passes))}); the songs are the same")
    run.extra_manifest["batch"] = {"size": r.batch, "passes": list(plan.passes), "per_candidate_bytes": plan.per_candidate,
                                   "available_bytes": available}
    return plan.passes


# --- the model stages -----------------------------------------------------------------------------


def load(run: Run) -> None:
    r, plan = run.request, run.plan
    assert plan is not None
    dtype = DTYPES[plan.precision.dtype]
    with run.stage("load"):
        if plan.resume_from == "audio_raw":
            raise Skipped("reusing audio_raw.pt from the run folder: no model needed")
        # a run resumed from its latents only decodes: the DiT and the style encoder stay on disk
        parts = ("vae",) if plan.resume_from == "latents" else ("dit", "vae", "style")
        if r.bundle:
            from runner.bundle.load import load_bundle

            torch.set_num_threads(1)  # the bundle's networks are tiny: threads cost more than they give
            comps = load_bundle(r.bundle, device=plan.device, dtype=dtype, faults=run.faults(), parts=parts,
                                scratch=run.folder / "faults", emit_warning=lambda m: run.warn("load", m))
        else:
            from runner.checkout import load_diffrhythm

            comps = load_diffrhythm(r.diffrhythm, r.model_paths(), plan.length_s, plan.device, dtype,
                                    lambda m: run.warn("load", m), parts=parts)
        for message in comps.warnings:
            run.warn("load", message)
        for info in comps.files:
            run.emitter.emit("check", stage="load", name=f"file_{info['role']}", ok=True, value=info["bytes"],
                             limit=None, message=f"{info['path']} sha256 {info['sha256'][:16]}...")
        run.files = list(comps.files)
        run.components = comps
        if "dit" in parts:
            accelerate_run(run)  # --accel: torch.compile / int8 (runner/acceleration.py)
        if plan.resume_from == "latents":
            run.warn("load", "reusing latents.pt from the run folder: lyrics, style and sampling are skipped"
                     + (" and the DiT was not loaded" if r.bundle else ""))
        elif plan.song.mode != "new":
            encode_reference(run)


def encode_reference(run: Run) -> None:
    """The song to edit or continue -> the reference latent [1, frames, 64] (zeros past a continued song's end).

    Part of the load stage (DESIGN.md has no encode stage): its progress events say part="encode"."""
    from runner.reference import reference_latent

    r, plan, comps = run.request, run.plan, run.components
    assert plan is not None and comps is not None and plan.song.path is not None

    def on_chunk(done: int, total: int) -> None:
        run.emitter.emit("stage_progress", stage="load", done=done, total=total, unit="chunk", part="encode")
        run.stopper.check()

    what = "song to edit" if plan.song.mode == "edit" else "song to continue"
    cond = reference_latent(comps.vae, plan.song.path, what, plan.song.keep_frames, plan.frames, r.seed,
                            plan.device, DECODE_WINDOW, DECODE_OVERLAP, on_chunk)
    run.reference = cond
    size = artifacts.save_tensor(run.folder, artifacts.REFERENCE, cond)
    run.emitter.emit("artifact", kind="reference_latents", path=str(run.folder / artifacts.REFERENCE), bytes=size)
    spans = ", ".join(f"{a * SAMPLES_PER_FRAME / SAMPLE_RATE:.2f}-{b * SAMPLES_PER_FRAME / SAMPLE_RATE:.2f} s"
                      for a, b in plan.song.spans or ())
    run.emitter.emit("check", stage="load", name="reference_song", ok=True, value=plan.song.keep_frames,
                     limit=plan.frames, message=f"{plan.song.path}: {plan.song.keep_frames} frames encoded; sampling {spans}")


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
            text = plan.lyrics_text
            parsed = parse_lrc(time_untimed_lyrics(run, text) if is_untimed(text) else text)
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


def time_untimed_lyrics(run: Run, text: str) -> str:
    """Plain lyric lines -> an LRC timed over the song, written to the run folder and reported."""
    from runner.components import BASE_MAX_FRAMES
    from runner.lyrics_timing import time_lyrics

    plan, comps = run.plan, run.components
    assert plan is not None and comps is not None
    if comps.tokenize is None:
        raise EnvironmentProblem("this install cannot turn lyrics into phonemes (it has no g2p)",
                                 "generate an instrumental (no lyrics), or use a checkout whose g2p works")
    timed, lrc = time_lyrics(text, comps.tokenize, plan.length_s, source=f"lyrics file {run.request.lyrics}",
                             end_marker=plan.max_frames == BASE_MAX_FRAMES)
    size = artifacts.save_atomic_text(run.folder / artifacts.LYRICS_TIMED, lrc)
    run.emitter.emit("artifact", kind="lrc", path=str(run.folder / artifacts.LYRICS_TIMED), bytes=size)
    run.emitter.emit("check", stage="lyrics", name="lyrics_timed", ok=True, value=len(timed), limit=None,
                     message=f"{len(timed)} untimed lines timed over {plan.length_s:g} s "
                     f"({timed[0].start:.2f}-{timed[-1].start:.2f} s): {run.folder / artifacts.LYRICS_TIMED}")
    return lrc


def style(run: Run) -> None:
    from runner.style import compute_style
    from runner.locations import cache_dir

    plan, comps = run.plan, run.components
    assert plan is not None
    with run.stage("style"):
        if plan.resume_from:
            raise Skipped(f"reusing {plan.resume_from}.pt from the run folder")
        assert comps is not None
        if plan.style_reused is not None:
            vector, where = plan.style_reused
            message = f"{where} (no style encoder loaded)"
        else:
            vector, cached = compute_style(run.request, comps, cache_dir() / "styles")
            message = "style vector from the cache" if cached else "style vector computed"
        run.style = vector
        run.emitter.emit("check", stage="style", name="style_vector", ok=True, value=round(float(vector.norm()), 4),
                         limit=None, message=message)
        size = artifacts.save_tensor(run.folder, artifacts.STYLE, vector)
        run.emitter.emit("artifact", kind="style", path=str(run.folder / artifacts.STYLE), bytes=size)


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
    total = (r.steps - 1) * len(plan.passes)
    with run.stage("sample", total=None if plan.resume_from else total, unit="step"):
        if plan.resume_from:
            run.latents = artifacts.load_latents(run.folder)
            if run.latents.ndim == 2:
                run.latents = run.latents.unsqueeze(0)
            raise Skipped(f"reusing latents.pt from the run folder ({run.latents.shape[1]} frames)")
        assert comps is not None and run.tokens is not None and run.style is not None
        frames = plan.frames
        cond = run.reference if run.reference is not None else torch.zeros(1, frames, LATENT_CHANNELS)
        spans = list(plan.song.spans) if plan.song.spans is not None else None
        parts, offset = [], 0
        for number, size in enumerate(plan.passes):
            base = number * (r.steps - 1)

            def on_step(done: int, steps: int, x: torch.Tensor, offset: int = offset, base: int = base) -> None:
                check_rows(run, done, steps, x, offset)
                run.progress("sample", base + done, total)
                run.stopper.check()

            parts.append(sample(
                comps.transformer, cond, run.tokens, run.style, comps.negative_style,
                torch.tensor([0.0]), torch.tensor([frames / plan.max_frames]), r.steps, r.cfg, r.seed + offset,
                spans, on_step, batch=size, guidance_every=guidance_every(run),
            ).cpu())
            offset += size
        if len(run.dead) == r.batch:  # every candidate failed: nothing worth keeping
            raise InvalidOutput("every candidate failed while sampling: " + "; ".join(
                f"candidate {k + 1}: {why}" for k, why in sorted(run.dead.items())),
                "retry with --dtype float32 or other seeds; if it persists the DiT checkpoint is damaged "
                "(`drdoctor check --deep`)")
        run.latents = torch.cat(parts)
        size = artifacts.save_latents(run.folder, run.latents, r)
        run.emitter.emit("artifact", kind="latents", path=str(run.folder / artifacts.LATENTS), bytes=size)


def check_rows(run: Run, done: int, steps: int, x: torch.Tensor, offset: int) -> None:
    """After each step, per candidate: a single run stops at the first bad step (exit 4 naming it); in a batch
    the bad candidate is reported by index and the others go on."""
    if run.request.batch == 1:
        check_step(done, steps, x)
        return
    for j in range(x.shape[0]):
        k = offset + j
        if k in run.dead:
            continue
        try:
            check_step(done, steps, x[j])
        except InvalidOutput as exc:
            run.dead[k] = exc.message.replace("the latents", "its latents")
            run.warn("sample", f"candidate {k + 1} (seed {run.request.seed + k}): {run.dead[k]}; the others go on")


def decode_stage(run: Run) -> None:
    r, plan, comps = run.request, run.plan, run.components
    assert plan is not None
    if plan.resume_from == "audio_raw":
        with run.stage("decode"):
            audio = artifacts.load_audio(run.folder)
            run.audio = [audio] if audio.ndim == 2 else [a if bool(a.abs().sum()) else None for a in audio]
            raise Skipped("reusing audio_raw.pt from the run folder")
        return
    assert comps is not None and run.latents is not None
    frames = run.latents.shape[1]
    live = [k for k in range(run.latents.shape[0]) if bool(torch.isfinite(run.latents[k]).all())]
    if run.latents.shape[0] == 1:
        live = [0]  # a single song is decoded whatever it holds: validation names what is wrong
    windows = len(plan_windows(frames, DECODE_WINDOW, DECODE_OVERLAP)) if r.chunked else 1
    with run.stage("decode", total=windows * len(live), unit="chunk"):
        audio: list[torch.Tensor | None] = [None] * run.latents.shape[0]
        for n, k in enumerate(live):
            def on_chunk(done: int, total: int, n: int = n) -> None:
                run.progress("decode", n * total + done, total * len(live))
                run.stopper.check()

            audio[k] = decode(comps.vae, run.latents[k : k + 1].to(plan.device), chunked=r.chunked,
                              window=DECODE_WINDOW, overlap=DECODE_OVERLAP, on_chunk=on_chunk,
                              on_retry=lambda m: run.warn("decode", m))
        run.audio = audio
        if len(audio) == 1:
            stored = audio[0]
        else:
            samples = frames * SAMPLES_PER_FRAME
            stored = torch.stack([a if a is not None else torch.zeros(2, samples) for a in audio])
        size = artifacts.save_audio(run.folder, stored)
        run.emitter.emit("artifact", kind="audio_raw", path=str(run.folder / artifacts.AUDIO_RAW), bytes=size)


def validate(run: Run) -> None:
    r, plan = run.request, run.plan
    assert plan is not None and run.audio is not None
    many = len(run.audio) > 1
    with run.stage("validate"):
        record_acceleration(run)  # what the sampling ran with; a lossy --accel is named in the table
        failures: dict[int, str] = {}
        for k, audio in enumerate(run.audio):
            found = check_latents(run.latents[k]) if run.latents is not None else []
            if audio is not None:
                found += check_audio(audio)
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
                                   "failure": failures.get(k) or run.dead.get(k)})
        if many:
            run.extra_manifest["candidates"] = run.candidates
            for k, why in failures.items():
                run.warn("validate", f"candidate {k + 1} (seed {r.seed + k}) failed validation: {why}; it is not written")
        if len(failures) == len(run.audio):
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


def write(run: Run) -> None:
    plan = run.plan
    assert plan is not None and run.audio is not None
    faults = run.faults()
    good = [c["index"] - 1 for c in run.candidates if c["ok"]] if run.candidates else [0]
    written: list[Path] = []
    with run.stage("write", total=None, unit="sample"):
        def on_chunk(done: int, total: int) -> None:
            if "kill_in_write" in faults and done < total:
                os.kill(os.getpid(), signal.SIGKILL)  # a hard kill half way: the output path must stay empty
            if "crash" in faults:
                raise RuntimeError("fault crash: failing while the WAV is half written")

        try:
            for k in good:
                audio = normalise(run.audio[k])
                path = plan.outs[k] if plan.outs else plan.out
                size = write_wav_atomic(path, audio, chunk_frames=1 << 16, on_chunk=on_chunk)
                written.append(path)
                entry = {"path": str(path), "bytes": size, "seconds": round(audio.shape[1] / SAMPLE_RATE, 3)}
                if run.output is None:
                    run.output = entry
                if run.candidates:
                    run.candidates[k]["output"] = entry
                run.emitter.emit("artifact", kind="wav", path=str(path), bytes=size,
                                 **({"candidate": k + 1} if len(run.audio) > 1 else {}))
        except BaseException:
            for path in written:  # a run that does not exit 0 leaves no song behind
                path.unlink(missing_ok=True)
            raise
        if len(run.audio) > 1:
            run.extra_manifest["outputs"] = [str(p) for p in written]


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


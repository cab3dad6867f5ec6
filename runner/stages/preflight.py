"""The preflight stage: everything that can be judged before a model loads (inputs, lengths, device, disk)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from runner import request_files
from runner.components import LATENT_CHANNELS, SAMPLE_RATE, SAMPLES_PER_FRAME
from runner.disk_space import mib
from runner.errors import BadInput, EnvironmentProblem
from runner.precision import Precision, choose_dtype, cpu_flags
from runner.request import Request
from runner.song_plan import SongPlan, plan_song
from runner.stages.resume import resume_point
from runner.stages.state import DTYPES, Plan, Run
from runner.style import reused_style
from runner.timefmt import format_seconds

DEFAULT_LENGTH_S = 95.0


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
            raise BadInput(f"--length {format_seconds(length)}: this bundle makes 1-{format_seconds(longest)}",
                           "leave --length out for the bundle")
    else:
        length = DEFAULT_LENGTH_S if given is None else float(given)
        max_frames = max_frames_for(length)
    return max_frames, length, max(1, end_frame_for(length, max_frames))


def _writable_folder(folder: Path, what: str) -> None:
    if not folder.is_dir():
        raise BadInput(f"{what} folder {folder} does not exist", f"create {folder} or choose another path")
    try:
        probe = folder / f".drdoctor-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BadInput(f"{what} folder {folder} is not writable ({exc.strerror})",
                       "choose a folder you can write") from None


def _disk_check(run: Run, folder: Path, need: int, what: str) -> None:
    free = shutil.disk_usage(folder).free
    ok = free >= need * 1.1
    name = what.replace("_", " ")
    run.emitter.emit("check", stage="preflight", name=f"disk_{what}", ok=ok, value=free, limit=need,
                     message=f"{free / 2**20:.0f} MiB free in {folder}, the {name} needs {mib(need)}")
    if not ok:
        raise EnvironmentProblem(f"not enough disk space in {folder}: {free / 2**20:.0f} MiB free, "
                                 f"{mib(need)} needed for the {name}", f"free space in {folder}")


def preflight(run: Run) -> Plan:
    r = run.request
    with run.stage("preflight"):
        lyrics_text = request_files.check(r)  # the rules the service applies at submit too
        resume = resume_point(run.folder) if r.resume else None
        reused = None if resume else reused_style(r)
        song_s = None if resume else _song_seconds(r)
        max_frames, length, frames = _lengths(r, song_s)
        song = SongPlan("new") if resume else plan_song(r, song_s, length, frames)
        out = Path(r.out)
        if out.is_dir():
            raise BadInput(f"--out {out} is a folder", "give a file name, e.g. --out song.wav")
        _writable_folder(out.parent, "output")
        outs = (out,) if r.batch == 1 else tuple(out.with_name(f"{out.stem}-{k}{out.suffix}")
                                                 for k in range(1, r.batch + 1))
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
        run_folder_need = (samples * 2 * 4 + frames * LATENT_CHANNELS * 4) * r.batch + (1 << 16)
        _disk_check(run, run.folder, run_folder_need, "run_folder")
        for path in outs:
            if path.exists():
                run.warn("preflight", f"{path} exists: it is replaced only if this run succeeds")
        passes = _batch_passes(run, device, precision.dtype, frames)
        run.extra_manifest["song"] = song.as_dict()
        return Plan(device, precision, max_frames, length, frames, out, lyrics_text, resume, song, outs, passes, reused)


def _song_seconds(r: Request) -> float | None:
    from runner.clip import audio_seconds

    found = request_files.song_file(r)
    return None if found is None else audio_seconds(*found)


def _batch_passes(run: Run, device: torch.device, dtype: str, frames: int) -> tuple[int, ...]:
    """Split a batch into passes that fit the device's free memory (a --fault mem_available:BYTES overrides it)."""
    from runner.batchplan import free_memory, net_size, plan_batch

    r = run.request
    if r.batch == 1:
        return (1,)
    forced = r.fault_value("mem_available")
    available = int(float(forced)) if forced else free_memory(device.type, device.index)
    elem = torch.tensor([], dtype=DTYPES[dtype]).element_size()
    plan = plan_batch(r.batch, net_size(r.bundle, r.diffrhythm), frames, elem, available, guided=r.cfg >= 1e-5,
                      device_type=device.type)
    fits = len(plan.passes) == 1
    run.emitter.emit(
        "check", stage="preflight", name="batch_memory", ok=fits, value=plan.need, limit=available,
        message=f"{r.batch} candidates need about {plan.need_for(r.batch) / 2**20:.0f} MiB; "
        f"{'unknown' if available is None else f'{available / 2**20:.0f} MiB'} free"
        + ("" if fits else f": sampling in {len(plan.passes)} passes of {', '.join(map(str, plan.passes))}"),
        severity="warn", passes=list(plan.passes))
    if not fits:
        run.warn("preflight", f"the batch of {r.batch} does not fit in one pass: sampling in {len(plan.passes)} "
                 f"passes ({', '.join(map(str, plan.passes))}); the songs are the same")
    run.extra_manifest["batch"] = {"size": r.batch, "passes": list(plan.passes),
                                   "per_candidate_bytes": plan.per_candidate, "available_bytes": available}
    return plan.passes

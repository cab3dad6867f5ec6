"""Benchmark: upstream's own DiT at its real size, every sampling variant side by side (issue 14).

    DRDOCTOR_DIFFRHYTHM_ROOT=/path/to/DiffRhythm PYTHON tests/bench/bench_realsize.py \
        [--rows native avx2] [--frames 2048] [--variants ...] [--steps 3] [--device cpu|cuda]

PYTHON needs torch, transformers>=4.43,<4.54, x-transformers, torchdiffeq, einops (the checkout's model
code), psutil-free; torchao for the int8 variant. The network is the checkout's `model.dit.DiT`, imported
with runner.checkout_import (no training-time `model/__init__`), built at `config/diffrhythm-1b.json`
(dim 2048, depth 16: 1.1 B parameters) with random weights from one seed, FRESH for every variant (a
network cast to bfloat16 and back has rounded weights). Both guidance rows go in one batch, except
where the variant says "two calls" (upstream's `CFM.sample` always makes two calls).

Every variant runs in its own child process (its peak memory is its own; the 4.4 GB float32 network is
freed before the next), in order, so load from other work on the machine hits them alike. Per variant:
`--steps` grid points = steps - 1 guided Euler steps; the first step is the warm-up (for a compiled
network it holds the compile) and is reported apart; the others are the per-step time. After them the
latents are compared (relative L2) with the float32 eager reference of the same row (`runner-fp32`,
always run first) and with the eager run of the same precision.

Rows: `native` = this CPU; `avx2` = oneDNN, MKL, ATen and inductor capped at AVX2 (ONEDNN_MAX_CPU_ISA,
MKL_ENABLE_INSTRUCTIONS, ATEN_CPU_CAPABILITY) to stand for a consumer CPU without avx512/AMX; there the runner's own choice is float32, and its float16 path can
take many minutes a step (a child over --timeout is stopped and reported as such). `--device cuda`
runs the GPU variants instead (float16/bfloat16 eager and compiled, two calls, four candidates as one
batch against four runs); it needs a CUDA machine and was not run on this project's CPU machines.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import torch

from runner.acceleration import Accelerated, CompiledDiT, accelerate
from runner.batchplan import NetSize, plan_batch
from runner.checkout_import import import_model_code
from runner.precision import choose_dtype, cpu_flags
from runner.sampler import sample

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
FLAGS_SHOWN = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_int8", "amx_fp16")
AVX2_HIDDEN = frozenset(f for f in FLAGS_SHOWN if f != "avx2")  # what a consumer CPU lacks


@dataclass(frozen=True)
class Variant:
    what: str
    path: str = "runner"  # runner | upstream
    dtype: str = "bf16"
    accel: str = "off"  # runner.acceleration: off | compile | cfg-reuse; int8 = torchao, compiled
    freeze: bool = True  # with accel compile
    two_calls: bool = False
    threads: int | None = None
    int8_ao: bool = False  # torch.ao dynamic quantization (fbgemm), float32
    candidates: int = 1
    separate_runs: bool = False  # candidates as separate runs instead of one batch


VARIANTS = {
    "runner-fp32": Variant("float32 eager, one batch of two rows (the reference)", dtype="fp32"),
    "upstream-fp32": Variant("upstream CFM.sample, float32", path="upstream", dtype="fp32"),
    "upstream-fp16": Variant("upstream CFM.sample, model.half() (its CPU path)", path="upstream", dtype="fp16"),
    "runner-bf16": Variant("bfloat16 eager, one batch (AMX default before --accel)"),
    "bf16-compile": Variant("bfloat16, torch.compile + freezing", accel="compile"),
    "bf16-compile-warm": Variant("same, second process: compiler cache warm", accel="compile"),
    "bf16-compile-nofreeze": Variant("bfloat16, torch.compile without freezing", accel="compile", freeze=False),
    "bf16-int8": Variant("int8 Linear (torchao dyn.), compiled", accel="int8"),
    "bf16-cfg-reuse": Variant("compiled, unguided pass every 2nd step [opt-in]", accel="cfg-reuse"),
    "bf16-cfg-reuse-3": Variant("compiled, unguided pass every 3rd step [opt-in]", accel="cfg-reuse-3"),
    "fp32-int8-ao": Variant("int8 dynamic quantize_dynamic (fbgemm), eager", dtype="fp32", int8_ao=True),
    "fp32-compile": Variant("float32, torch.compile + freezing", dtype="fp32", accel="compile"),
    "bf16-two-calls": Variant("bfloat16 eager, two calls (runner --accel off)", two_calls=True),
    "fp32-two-calls": Variant("float32 eager, two calls (the runner on AVX2)", dtype="fp32", two_calls=True),
    "bf16-1-thread": Variant("bfloat16, 1 intra-op thread", threads=1),
    # GPU rows
    "runner-fp16": Variant("runner, float16 eager (its CUDA default)", dtype="fp16"),
    "fp16-compile": Variant("float16, torch.compile", dtype="fp16", accel="compile", freeze=False),
    "fp16-two-calls": Variant("float16, guidance as two calls", dtype="fp16", two_calls=True),
    "fp16-batch4": Variant("float16, 4 candidates as one batch (per candidate)", dtype="fp16", candidates=4),
    "fp16-4-runs": Variant("float16, 4 candidates as 4 runs (per candidate)", dtype="fp16", candidates=4,
                           separate_runs=True),
}
ROW_VARIANTS = {
    "native": ["runner-fp32", "fp32-two-calls", "runner-bf16", "bf16-compile", "bf16-compile-warm", "bf16-cfg-reuse", "bf16-cfg-reuse-3",
               "bf16-int8",
               "upstream-fp16",
               "upstream-fp32", "fp32-compile", "fp32-int8-ao", "bf16-two-calls", "bf16-1-thread",
               "bf16-compile-nofreeze"],
    "avx2": ["runner-fp32", "upstream-fp32", "upstream-fp16", "fp32-compile", "fp32-two-calls"],
    "cuda": ["runner-fp32", "upstream-fp16", "runner-fp16", "runner-bf16", "fp16-compile", "bf16-compile",
             "fp16-two-calls", "fp16-batch4", "fp16-4-runs"],
}
# A consumer CPU without avx512/AMX: oneDNN (bf16/fp16 matmuls), MKL (float32 GEMM: torch's CPU build links
# MKL, which ONEDNN_MAX_CPU_ISA does not reach), ATen's own kernels and inductor's code generation, all at AVX2.
AVX2_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
ROW_ENV = {"native": {}, "avx2": AVX2_ENV, "cuda": {}}


def peak_reset() -> None:
    """Reset the kernel's resident-memory high-water mark (VmHWM) of this process."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def rss_now_and_peak() -> tuple[int, int]:
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) * 1024
    return found["VmRSS"], found["VmHWM"]


def build_dit(root: Path, frames: int, dim: int | None, depth: int | None) -> tuple[torch.nn.Module, int, type]:
    cfm_cls, dit_cls = import_model_code(root, lambda m: None)
    config = json.loads((root / "config" / "diffrhythm-1b.json").read_text(encoding="utf-8"))["model"]
    if dim:
        config["dim"] = dim
    if depth:
        config["depth"] = depth
    max_frames = 2048 if frames <= 2048 else 6144  # 6144: the full model, with its duration embedding
    torch.manual_seed(0)
    return dit_cls(**config, max_frames=max_frames).eval(), max_frames, cfm_cls


def inputs(frames: int, max_frames: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return {"cond": torch.zeros(1, frames, 64), "tokens": torch.randint(1, 360, (frames,), generator=gen),
            "style": torch.randn(1, 512, generator=gen), "negative": torch.randn(1, 512, generator=gen),
            "start": torch.tensor([0.0]), "duration": torch.tensor([frames / max_frames])}


def run_upstream(cfm_cls: type, net: torch.nn.Module, dtype: torch.dtype, ins: dict, steps: int, seed: int,
                 device: torch.device, sync) -> tuple[torch.Tensor, list[float]]:
    """Upstream's own CFM.sample (two DiT calls a step, torchdiffeq Euler); step times from the DiT's calls."""
    frames = ins["cond"].shape[1]
    cfm = cfm_cls(transformer=net, num_channels=64, max_frames=net.max_frames).to(device)
    if dtype == torch.float16:
        cfm = cfm.half()  # what upstream's infer does on every device
    cast = (lambda t: t.to(device).half()) if dtype == torch.float16 else (lambda t: t.to(device))
    calls: list[float] = []
    cpu_calls: list[float] = []

    def stamp(_module: torch.nn.Module, _args: tuple) -> None:
        sync()
        calls.append(time.perf_counter())
        cpu_calls.append(time.process_time())

    net.register_forward_pre_hook(stamp)
    with torch.no_grad():
        out, _trajectory = cfm.sample(
            cond=ins["cond"].to(device), text=ins["tokens"][None].to(device), duration=frames,
            style_prompt=cast(ins["style"]), negative_style_prompt=cast(ins["negative"]), steps=steps,
            cfg_strength=4.0, seed=seed, start_time=cast(ins["start"]), latent_pred_segments=[(0, frames)],
            song_duration=cast(ins["duration"]), max_duration=net.max_frames)
    sync()
    calls.append(time.perf_counter())
    cpu_calls.append(time.process_time())
    starts, cpu_starts = calls[0::2], cpu_calls[0::2]
    if len(starts) < steps:
        starts.append(calls[-1])
        cpu_starts.append(cpu_calls[-1])
    return (out[0].float().cpu(), [b - a for a, b in pairwise(starts)],
            [b - a for a, b in pairwise(cpu_starts)])


class StopSampling(Exception):
    """Raised from on_step to stop after the measured steps of a longer grid (--grid)."""


GRID: int | None = None


def run_runner(net: torch.nn.Module, ins: dict, steps: int, seed: int, v: Variant, device: torch.device,
               sync, guidance_every: int = 1) -> tuple[torch.Tensor, list[float], list[float]]:
    stamps: list[float] = []
    cpu_stamps: list[float] = []

    def on_step(done: int, total: int, x: torch.Tensor) -> None:
        sync()
        stamps.append(time.perf_counter())
        cpu_stamps.append(time.process_time())

    grid = GRID or steps  # GRID: a song's time grid, of which only the first steps - 1 are run
    last: list[torch.Tensor] = []

    def stepped(done: int, total: int, x: torch.Tensor) -> None:
        on_step(done, total, x)
        if done == steps - 1 and grid != steps:
            last.append(x.clone())
            raise StopSampling

    args = (net, ins["cond"].to(device), ins["tokens"].to(device), ins["style"].to(device),
            ins["negative"].to(device), ins["start"], ins["duration"])
    runs = v.candidates if v.separate_runs else 1
    batch = 1 if v.separate_runs else v.candidates
    outs = []
    sync()
    stamps.append(time.perf_counter())
    cpu_stamps.append(time.process_time())
    for k in range(runs):
        try:
            outs.append(sample(*args, steps=grid, cfg=4.0, seed=seed + k, spans=None, on_step=stepped,
                               batched_guidance=not v.two_calls, batch=batch, guidance_every=guidance_every).cpu())
        except StopSampling:
            outs.append(last.pop().cpu())
    per = steps - 1

    def per_candidate(marks: list[float]) -> list[float]:
        times = [b - a for a, b in pairwise(marks)]
        if v.separate_runs:  # the same step of each run, summed
            times = [sum(times[k * per + i] for k in range(runs)) for i in range(per)]
        return [t / v.candidates for t in times]

    return torch.cat(outs)[:1], per_candidate(stamps), per_candidate(cpu_stamps)


def child(args: argparse.Namespace) -> None:
    v = VARIANTS[args.variant]
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if v.threads:
        torch.set_num_threads(v.threads)
    threads = torch.get_num_threads()
    root = Path(os.environ["DRDOCTOR_DIFFRHYTHM_ROOT"])
    rss_start, _ = rss_now_and_peak()  # what a runner holds when preflight reads the free memory
    start = time.perf_counter()
    net, max_frames, cfm_cls = build_dit(root, args.frames, args.dim, args.depth)
    params = sum(p.numel() for p in net.parameters())
    dtype = DTYPES[v.dtype]
    state = Accelerated("off")
    warnings: list[str] = []
    if v.int8_ao:
        net = torch.ao.quantization.quantize_dynamic(net, {torch.nn.Linear}, dtype=torch.qint8)
    elif v.path == "runner":
        net = net.to(device=device, dtype=dtype)
        if v.accel in ("compile", "int8"):
            if v.accel == "int8":  # measured, not offered by the runner: it did not pay
                from torchao.quantization import (
                    Int8DynamicActivationInt8WeightConfig,
                    quantize_,
                )

                quantize_(net, Int8DynamicActivationInt8WeightConfig())
            state = Accelerated(v.accel, compiled=True)
            net = CompiledDiT(net, state, warnings.append, freeze=v.freeze and v.accel != "int8")
        elif v.accel != "off":
            net, state = accelerate(net, v.accel, 32, args.cache, warnings.append)
    build_s = time.perf_counter() - start
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    import gc

    gc.collect()
    rss_before, _ = rss_now_and_peak()
    peak_reset()
    ins = inputs(args.frames, max_frames)
    warm_s = None
    if state.guidance_every > 1:  # two graphs (guided rows alone, both rows): compile both before timing
        warm_s = time.perf_counter()
        run_runner(net, ins, 1 + state.guidance_every, 0, v, device, sync, state.guidance_every)
        warm_s = time.perf_counter() - warm_s
    if v.path == "upstream":
        latents, times, cpu_times = run_upstream(cfm_cls, net, dtype, ins, args.steps, 0, device, sync)
    else:
        latents, times, cpu_times = run_runner(net, ins, args.steps, 0, v, device, sync, state.guidance_every)
    _, peak = rss_now_and_peak()
    # the warm-up (reported apart): the first step, holding the compile; with the guidance reused, a whole
    # warm-up run before (warm_s), so every sampled step is timed, one of each kind in turn
    warm = 1
    if warm_s is not None:
        times, cpu_times = [warm_s, *times], [warm_s, *cpu_times]
    out = Path(args.out)
    torch.save(latents, out / f"{args.variant}.pt")
    rel = {}
    for ref in ("runner-fp32", f"runner-{v.dtype}"):
        path = out / f"{ref}.pt"
        if path.is_file() and ref != args.variant:
            expect = torch.load(path, weights_only=True)
            rel[ref] = float((latents - expect).norm() / expect.norm())
    elem = torch.tensor([], dtype=dtype).element_size()
    net_size = NetSize(net_dim(args), net_depth(args), 4, 32)
    predicted = plan_batch(1, net_size, args.frames, elem, None, True, device.type).need  # preflight's estimate
    result = {
        "variant": args.variant, "frames": args.frames, "params": params, "threads": threads,
        "build_s": round(build_s, 2), "first_step_s": round(times[0], 3),
        "step_s": mean_after(times, warm), "steps_timed": len(times) - warm,
        "cpu_first_s": round(cpu_times[0], 3), "cpu_step_s": mean_after(cpu_times, warm),
        "load_avg": os.getloadavg()[0],
        "peak_rss": peak, "rss_start": rss_start, "rss_before": rss_before, "predicted": predicted,
        "gpu_peak": torch.cuda.max_memory_allocated() if device.type == "cuda" else None,
        "rel_fp32": rel.get("runner-fp32"), "rel_same": rel.get(f"runner-{v.dtype}"),
        "fallback": state.fallback, "warnings": warnings,
    }
    print("RESULT " + json.dumps(result), flush=True)


def mean_after(times: list[float], warm: int) -> float | None:
    return round(statistics.mean(times[warm:]), 3) if len(times) > warm else None


def net_dim(args: argparse.Namespace) -> int:
    return args.dim or 2048


def net_depth(args: argparse.Namespace) -> int:
    return args.depth or 16


def drive(args: argparse.Namespace) -> None:
    flags = cpu_flags()
    print(f"CPU: {', '.join(f for f in FLAGS_SHOWN if f in flags)}; {os.cpu_count()} logical CPUs; "
          f"torch {torch.__version__}; default intra-op threads {torch.get_num_threads()}")
    print(f"network: checkout {os.environ.get('DRDOCTOR_DIFFRHYTHM_ROOT')} model.dit.DiT, dim {net_dim(args)}, "
          f"depth {net_depth(args)}; {args.steps - 1} guided steps (the first = warm-up); random weights")
    work = args.into or Path(tempfile.mkdtemp(prefix="bench-realsize-"))
    for row in args.rows:
        for frames in args.frames:
            names = args.variants or ROW_VARIANTS[row]
            if frames > 2048 and not args.variants:  # the long song: today's default and the kept lever only
                if row != "native":
                    continue
                names = ["runner-bf16", "bf16-compile"]
            run_row(args, row, frames, names, work / f"{row}-{frames}", flags)


def run_row(args: argparse.Namespace, row: str, frames: int, names: list[str], out: Path, flags: frozenset) -> None:
    out.mkdir(parents=True, exist_ok=True)  # --into: a later run adds variants beside the earlier ones
    cache = out / "inductor-cache"
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str(cache), **ROW_ENV[row])
    row_flags = flags - AVX2_HIDDEN if row == "avx2" else flags
    device = "cuda" if row == "cuda" else "cpu"
    choice = choose_dtype(device, "auto", row_flags, cuda_bf16=True).dtype
    capped = " ".join(f"{k}={v}" for k, v in ROW_ENV[row].items())
    print(f"\n== row {row} ({capped or 'as the CPU is'}), "
          f"{frames} frames; the runner's dtype choice here: {choice}")
    print(HEADER)
    saved = out / "results.json"
    results = json.loads(saved.read_text()) if saved.is_file() else {}
    for name in names:
        cmd = [sys.executable, __file__, "--child", "--variant", name, "--frames", str(frames), "--steps",
               str(args.steps), "--out", str(out), "--cache", str(cache), "--device", device]
        if args.dim:
            cmd += ["--dim", str(args.dim)]
        if args.depth:
            cmd += ["--depth", str(args.depth)]
        if args.grid:
            cmd += ["--grid", str(args.grid)]
        try:
            proc = subprocess.run(cmd, env=env, check=False, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"{name:24s} {VARIANTS[name].what:50s} stopped after {args.timeout:.0f} s "
                  f"(> {args.timeout / (args.steps - 1):.0f} s a step)", flush=True)
            continue
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{name:24s} {VARIANTS[name].what:50s} FAILED (exit {proc.returncode}): {tail[:200]}", flush=True)
            continue
        r = json.loads(line[len("RESULT "):])
        results[name] = r
        print(format_row(name, r, results), flush=True)
        if r["fallback"] or r["warnings"]:
            print(f"{'':24s} warnings: {r['fallback'] or ''} {r['warnings']}"[:300])
        saved.write_text(json.dumps(results, indent=1))
    print(f"(latents, results.json: {out})")


HEADER = (f"{'variant':24s} {'what':50s} {'first s':>8s} {'s/step':>8s} {'vs today':>8s} {'cpu-s/st':>8s} "
          f"{'peak GiB':>8s} {'used GiB':>8s} {'pred GiB':>8s} {'L2 vs fp32':>10s} {'L2 vs eager':>11s} {'load':>5s}")


def show(folder: Path) -> None:
    """Print the tables of an earlier run again from its results.json files (one per row and length)."""
    for path in sorted(folder.glob("*/results.json")):
        results = json.loads(path.read_text())
        print(f"\n== {path.parent.name}")
        print(HEADER)
        done: dict = {}
        for name, r in results.items():
            done[name] = r
            print(format_row(name, r, done))


def format_row(name: str, r: dict, results: dict) -> str:
    gib = 2**30
    step = r["step_s"] if r["step_s"] is not None else r["first_step_s"]
    today = results.get("runner-bf16") or results.get("runner-fp32")
    today_step = (today["step_s"] or today["first_step_s"]) if today else None
    ratio = f"{today_step / step:.2f}x" if today_step else "-"
    rel = lambda x: "-" if x is None else f"{x:.2e}"
    peak = (r["gpu_peak"] or r["peak_rss"]) / gib
    # used: what the run added to a process that had imported torch (the free memory preflight splits by)
    used = "-" if r["gpu_peak"] or "rss_start" not in r else f"{(r['peak_rss'] - r['rss_start']) / gib:8.2f}"
    cpu = r.get("cpu_step_s") or r.get("cpu_first_s")
    load = r.get("load_avg")
    return (f"{name:24s} {VARIANTS[name].what:50s} {r['first_step_s']:8.2f} {step:8.2f} {ratio:>8s} "
            f"{'-' if cpu is None else f'{cpu:8.1f}':>8s} {peak:8.2f} {used:>8s} {r['predicted'] / gib:8.2f} "
            f"{rel(r['rel_fp32']):>10s} {rel(r['rel_same']):>11s} {'-' if load is None else f'{load:5.1f}':>5s}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", nargs="+", default=["native", "avx2"], choices=sorted(ROW_VARIANTS))
    p.add_argument("--frames", nargs="+", type=int, default=[2048])
    p.add_argument("--variants", nargs="+", choices=sorted(VARIANTS))
    p.add_argument("--steps", type=int, default=3, help="grid points: steps - 1 guided steps, the first a warm-up")
    p.add_argument("--grid", type=int, help="time grid of a real song (e.g. 32): only its first --steps - 1 "
                   "steps run, so the latent error is the one a song has after those steps (default: the grid is "
                   "--steps points, a coarse whole trajectory)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per variant before it is stopped")
    p.add_argument("--dim", type=int, help="smaller network for a smoke test (multiple of 32)")
    p.add_argument("--depth", type=int)
    p.add_argument("--into", type=Path, metavar="DIR",
                   help="keep the latents and results in DIR (default: a new temp folder); variants run later with "
                   "the same DIR are compared with the references already there")
    p.add_argument("--show", type=Path, metavar="DIR", help="print the tables of an earlier run (its temp folder)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--cache", help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = p.parse_args()
    global GRID
    GRID = args.grid
    if args.grid and args.variants and any(VARIANTS[n].path == "upstream" for n in args.variants):
        p.error("--grid applies to the runner's variants only (upstream's CFM.sample runs its whole grid)")
    if args.show:
        return show(args.show)
    if not os.environ.get("DRDOCTOR_DIFFRHYTHM_ROOT"):
        p.error("set DRDOCTOR_DIFFRHYTHM_ROOT to a DiffRhythm checkout (its model/dit.py is benchmarked)")
    if args.child:
        args.frames = args.frames[0]
        child(args)
    else:
        drive(args)


if __name__ == "__main__":
    main()

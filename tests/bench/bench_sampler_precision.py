"""Benchmark (a): our sampler in float32 / bfloat16 on the CPU against upstream-style float16-on-CPU sampling.

    .venv/bin/python tests/bench/bench_sampler_precision.py [--dim 1024] [--depth 1] [--frames 1024] [--steps 2]
        [--isa native AVX512_CORE_BF16 AVX2]

The CPU's instruction set decides the answer: a CPU with avx512_fp16 (this project's machines) runs
float16 at full speed, one without it (most CPUs people own) falls to a ~0.3 GFLOP/s path. Each `--isa`
runs the comparison in a child process with oneDNN capped to that instruction set
(ONEDNN_MAX_CPU_ISA): `native` = this CPU, `AVX512_CORE_BF16` = bf16 but no fp16 (e.g. Cooper Lake,
Zen 4), `AVX2` = neither (most desktops and laptops).

Same DiT-shaped network (runner.bundle.nets.TinyDiT at DiT-like matmul sizes), same frames, same seed.
"upstream-style" = what upstream does on a CPU: the whole network and every input in float16 (model.half()),
the state and the time grid in float16, two forwards per step. Runs are interleaved
(fp32, bf16, fp16, fp32, bf16, ...) so load from other work on the machine hits all alike.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from runner.precision import cpu_flags
from runner.sampler import sample

from dit_workload import dit_network, new_song_inputs


def upstream_style_fp16(net, cond, tokens, style, negative, start, dur, steps, cfg, seed):
    """Upstream's CPU recipe, written plainly: float16 everywhere, two passes per step."""
    half = lambda t: t.half()  # noqa: E731
    torch.manual_seed(seed)
    x = torch.randn(cond.shape[1], 64, dtype=torch.float16).unsqueeze(0)
    grid = torch.linspace(0, 1, steps, dtype=torch.float16)
    text = tokens.reshape(1, -1)
    with torch.no_grad():
        for i in range(steps - 1):
            kw = dict(x=x, cond=half(cond), text=text, time=grid[i], start_time=half(start), duration=half(dur))
            pred = net(drop_audio_cond=False, drop_text=False, style_prompt=half(style), **kw)
            null = net(drop_audio_cond=True, drop_text=True, style_prompt=half(negative), **kw)
            x = x + (grid[i + 1] - grid[i]) * (pred + (pred - null) * cfg)
    return x.float()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dim", type=int, default=1024)
    p.add_argument("--depth", type=int, default=1)
    p.add_argument("--frames", type=int, default=1024)
    p.add_argument("--steps", type=int, default=2, help="grid points: steps - 1 guided evaluations")
    p.add_argument("--rounds", type=int, default=2, help="fp32/bf16 repeats around each fp16 run")
    p.add_argument("--isa", nargs="+", default=["native", "AVX512_CORE_BF16", "AVX2"])
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if not args.child:
        return drive(args)
    base = dit_network(args.dim, args.depth)
    nets = {"float32": base, "bfloat16": copy.deepcopy(base).to(torch.bfloat16),
            "float16": copy.deepcopy(base).to(torch.float16)}
    frames = args.frames
    cond, tokens, style, negative, start, dur = new_song_inputs(frames)
    times: dict[str, list[float]] = {k: [] for k in nets}
    outs = {}
    params = sum(t.numel() for t in base.parameters())
    flags = cpu_flags()
    native = sorted(flags & {"avx512_bf16", "amx_bf16", "avx512_fp16", "amx_fp16"})
    print(f"CPU native low-precision flags: {', '.join(native) or 'none'} "
          "(without avx512_fp16/amx_fp16, float16 matmuls fall back to slow paths)")
    print(f"TinyDiT dim {args.dim} depth {args.depth} ({params / 1e6:.1f} M params), {frames} frames, "
          f"{args.steps - 1} guided steps, torch {torch.__version__}, {torch.get_num_threads()} threads")
    for r in range(args.rounds):
        for name in ("float32", "bfloat16", "float16") if r == 0 else ("float32", "bfloat16"):
            t0 = time.perf_counter()
            if name == "float16":
                outs[name] = upstream_style_fp16(nets[name], cond, tokens, style, negative, start, dur,
                                                 args.steps, 4.0, 1)
            else:
                outs[name] = sample(nets[name], cond, tokens, style, negative, start, dur, args.steps, 4.0, 1)
            times[name].append(time.perf_counter() - t0)
            print(f"  round {r}: {name:<8} {times[name][-1]:8.2f} s", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    per_step = {k: v / (args.steps - 1) for k, v in med.items()}
    print("\nmedian seconds per guided step:", {k: round(v, 3) for k, v in per_step.items()})
    print(f"float16-on-CPU (upstream style) / ours float32 : {med['float16'] / med['float32']:.1f}x slower")
    print(f"float16-on-CPU (upstream style) / ours bfloat16: {med['float16'] / med['bfloat16']:.1f}x slower")
    print(f"ours float32 / ours bfloat16                   : {med['float32'] / med['bfloat16']:.2f}x")
    ref = outs["float32"]
    for k in ("bfloat16", "float16"):
        print(f"relative L2 of {k} latents vs float32: {float((outs[k] - ref).norm() / ref.norm()):.3%}")
    print("RESULT " + json.dumps(per_step))


def drive(args: argparse.Namespace) -> None:
    from runner.precision import choose_dtype

    repo = Path(__file__).resolve().parents[2]
    rows = []
    for isa in args.isa:
        env = dict(os.environ, PYTHONPATH=str(repo))
        if isa != "native":
            env["ONEDNN_MAX_CPU_ISA"] = isa
        argv = [sys.executable, __file__, "--child", "--dim", str(args.dim), "--depth", str(args.depth),
                "--frames", str(args.frames), "--steps", str(args.steps), "--rounds", str(args.rounds)]
        print(f"== oneDNN ISA: {isa}", flush=True)
        out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800)
        print(out.stdout, out.stderr[-2000:] if out.returncode else "", flush=True)
        result = json.loads(out.stdout.split("RESULT ", 1)[1])
        flags = cpu_flags() if isa == "native" else (frozenset({"avx512_bf16"}) if "BF16" in isa else frozenset())
        rows.append((isa, result, choose_dtype("cpu", "auto", flags).dtype))
    print("\nseconds per guided step (both guidance passes), side by side:")
    print(f"{'oneDNN ISA':<18} {'ours fp32':>10} {'ours bf16':>10} {'upstream fp16':>14} {'fp16/fp32':>10} "
          f"{'fp16/bf16':>10}  our auto dtype -> fp16 / ours")
    for isa, r, auto in rows:
        print(f"{isa:<18} {r['float32']:10.3f} {r['bfloat16']:10.3f} {r['float16']:14.3f} "
              f"{r['float16'] / r['float32']:9.1f}x {r['float16'] / r['bfloat16']:9.1f}x  {auto} -> "
              f"{r['float16'] / r[auto]:.1f}x")


if __name__ == "__main__":
    main()

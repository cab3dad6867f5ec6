"""Benchmark: a batch of 4 candidates in one pass (`sample(..., batch=4)`, 8 rows with guidance) against 4
single runs (seeds s .. s+3) on the same network and frames: time and peak memory, side by side.

    .venv/bin/python tests/bench/bench_batch.py [--dim 512] [--depth 4] [--frames 512] [--steps 5] [--reps 3]
                                                [--batch 4] [--device cpu|cuda] [--dtype float32|bfloat16]

Repetitions are interleaved (ABBA). Each measurement runs in a fresh child process so the peak memory of
one variant is not the high-water mark of the other: on the CPU the peak is the child's maximum resident
set size above what it held before sampling; on CUDA, torch's peak allocated memory. The candidates of the
batch are checked against the single runs (relative L2).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from runner.sampler import sample

from dit_workload import dit_network, new_song_inputs


def _child(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    net = dit_network(args.dim, args.depth).to(device=device, dtype=dtype)
    frames = args.frames
    inputs = new_song_inputs(frames)
    small = (torch.zeros(1, 16, 64), inputs[1][:16], *inputs[2:])
    sample(net, *small, steps=2, seed=0, batch=args.batch)  # load the kernels, barely touching the high-water mark
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    if args.child == "batch":
        out = sample(net, *inputs, steps=args.steps, seed=7, batch=args.batch)
    else:
        out = torch.cat([sample(net, *inputs, steps=args.steps, seed=7 + k) for k in range(args.batch)])
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    seconds = time.perf_counter() - t0
    torch.save(out.cpu(), args.save)
    print(json.dumps({"seconds": seconds, "peak": peak}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--frames", type=int, default=512)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--child", choices=("batch", "single"))
    p.add_argument("--save")
    args = p.parse_args()
    if args.child:
        _child(args)
        return
    print(f"TinyDiT dim {args.dim} depth {args.depth}, {args.frames} frames, {args.steps - 1} guided steps, "
          f"{args.batch} candidates, {args.device} {args.dtype}, {torch.get_num_threads()} threads")
    times: dict[str, list[float]] = {"batch": [], "single": []}
    peaks: dict[str, list[int]] = {"batch": [], "single": []}
    saved = {}
    here = Path(__file__).resolve()
    for rep in range(args.reps):
        for kind in (("batch", "single") if rep % 2 == 0 else ("single", "batch")):
            target = Path(f"/tmp/bench_batch_{kind}.pt")
            cmd = [sys.executable, str(here), "--child", kind, "--save", str(target)] + [
                f"--{k}={getattr(args, k)}" for k in ("dim", "depth", "frames", "steps", "batch", "device", "dtype")]
            result = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
            times[kind].append(result["seconds"])
            peaks[kind].append(result["peak"])
            saved[kind] = torch.load(target)
    diff = float((saved["batch"] - saved["single"]).norm() / saved["single"].norm())
    tb, ts = statistics.median(times["batch"]), statistics.median(times["single"])
    pb, ps = statistics.median(peaks["batch"]), statistics.median(peaks["single"])
    print(f"time   median: batch of {args.batch} {tb:6.2f} s   {args.batch} single runs {ts:6.2f} s   "
          f"single/batch {ts / tb:.2f}x  (all: batch {[round(t, 2) for t in times['batch']]}, "
          f"single {[round(t, 2) for t in times['single']]})")
    print(f"memory median peak above the loaded network: batch {pb / 2**20:7.1f} MiB   single {ps / 2**20:7.1f} MiB   "
          f"batch/single {pb / max(ps, 1):.2f}x")
    print(f"candidates of the batch vs the single runs: relative L2 {diff:.1e}")


if __name__ == "__main__":
    main()

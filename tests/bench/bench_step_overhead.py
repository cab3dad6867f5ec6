"""Benchmark (c): cost of the runner's per-step checks (finite, collapse), progress event and stop check,
as a share of sampling time. Target: under 2 %.

    .venv/bin/python tests/bench/bench_step_overhead.py [--dim 512] [--depth 4] [--frames 1024] [--steps 9] [--reps 3]

Interleaved: sampling with no callback, then with the runner's own per-step callback (the same
`check_step`, a real `Emitter` writing events to /dev/null, the real `Stopper.check`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


from runner.emit import Emitter
from runner.interrupt import Stopper
from runner.stages.sampling import check_step
from runner.sampler import sample

from dit_workload import dit_network, new_song_inputs


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--frames", type=int, default=1024)
    p.add_argument("--steps", type=int, default=9)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    net = dit_network(args.dim, args.depth)
    frames = args.frames
    inputs = new_song_inputs(frames)
    sink = open(os.devnull, "wb")
    emitter = Emitter("bench", sink)
    stopper = Stopper(timeout=1e9)
    callback_time = [0.0]

    def on_step(done, total, x):
        t0 = time.perf_counter()
        check_step(done, total, x)
        emitter.emit("stage_progress", stage="sample", done=done, total=total)
        stopper.check()
        callback_time[0] += time.perf_counter() - t0

    bare, guarded, inside = [], [], []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        sample(net, *inputs, steps=args.steps, seed=1)
        bare.append(time.perf_counter() - t0)
        callback_time[0] = 0.0
        t0 = time.perf_counter()
        sample(net, *inputs, steps=args.steps, seed=1, on_step=on_step)
        guarded.append(time.perf_counter() - t0)
        inside.append(callback_time[0])
    b, g, c = statistics.median(bare), statistics.median(guarded), statistics.median(inside)
    print(f"TinyDiT dim {args.dim} depth {args.depth} float32, {frames} frames, {args.steps - 1} steps")
    print(f"bare {b:.3f} s, with checks+events {g:.3f} s; time inside the callback {c * 1000:.2f} ms "
          f"= {c / g:.3%} of sampling ({c / (args.steps - 1) * 1000:.3f} ms per step); "
          f"wall difference {(g - b) / b:+.2%} (noise included)")


if __name__ == "__main__":
    main()

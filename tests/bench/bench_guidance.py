"""Benchmark (b): both guidance passes as one batch of two rows vs two sequential forwards.

    .venv/bin/python tests/bench/bench_guidance.py [--dim 768] [--depth 4] [--frames 512] [--steps 5] [--reps 3]

Same network, inputs and seed; runs interleaved (batched, sequential, batched, ...) in float32 and bfloat16.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from runner.sampler import sample

from dit_workload import dit_network, new_song_inputs


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dim", type=int, default=768)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--frames", type=int, default=512)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--reps", type=int, default=6)
    args = p.parse_args()
    base = dit_network(args.dim, args.depth)
    frames = args.frames
    inputs = new_song_inputs(frames)
    print(f"TinyDiT dim {args.dim} depth {args.depth}, {frames} frames, {args.steps - 1} guided steps, "
          f"{torch.get_num_threads()} threads")
    for dtype in (torch.float32, torch.bfloat16):
        net = copy.deepcopy(base).to(dtype)
        t = {True: [], False: []}
        outs = {}
        for batched in (True, False):  # warm-up, not timed
            sample(net, *inputs, steps=2, cfg=4.0, seed=1, batched_guidance=batched)
        for rep in range(args.reps):
            for batched in ((True, False) if rep % 2 == 0 else (False, True)):  # ABBA order
                t0 = time.perf_counter()
                outs[batched] = sample(net, *inputs, steps=args.steps, cfg=4.0, seed=1, batched_guidance=batched)
                t[batched].append(time.perf_counter() - t0)
        b, s = statistics.median(t[True]), statistics.median(t[False])
        diff = float((outs[True] - outs[False]).norm() / outs[False].norm())
        bm, sm = min(t[True]), min(t[False])
        print(f"{str(dtype):<15} median: batched {b:6.2f} s  sequential {s:6.2f} s  sequential/batched {s / b:.2f}x; "
              f"best: {bm:.2f} / {sm:.2f} s = {sm / bm:.2f}x  "
              f"(relative L2 between them {diff:.1e})")


if __name__ == "__main__":
    main()

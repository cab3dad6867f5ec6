"""Benchmark: what phonemizing a word per needed voice adds to the espeak probe and to the whole checkup.

    .venv/bin/python tests/bench/bench_espeak_probe.py [--reps 15]

Side by side, interleaved: the voice list alone (`espeak-ng --voices`, all the probe did before), the whole
espeak probe (the list plus one word per needed voice, concurrently), and run_checkup() on this machine with
and without the words.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from doctor.checkup import CheckupOptions, run_checkup
    from doctor.probes import tools

    env = dict(os.environ)
    binary = tools._which(Path("/"), "espeak-ng", env)
    if binary is None:
        print("espeak-ng is not on PATH: nothing to measure")
        return 1
    phonemizing = tools._broken_voices

    def checkup_without_words():
        tools._broken_voices = lambda *_: ()
        try:
            run_checkup(CheckupOptions())
        finally:
            tools._broken_voices = phonemizing

    jobs = {
        "voice list only": lambda: tools._voices(binary, env),
        "espeak probe (list + words)": lambda: tools.probe_espeak(Path("/"), env),
        "whole checkup": lambda: run_checkup(CheckupOptions()),
        "whole checkup without words": checkup_without_words,
    }
    timings: dict[str, list[float]] = {name: [] for name in jobs}
    run_checkup(CheckupOptions())  # warm caches once
    for _ in range(args.reps):
        for name, job in jobs.items():
            started = time.perf_counter()
            job()
            timings[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    added = medians["espeak probe (list + words)"] - medians["voice list only"]
    for name, value in medians.items():
        print(f"{name:<30} {value * 1000:8.1f} ms (median of {args.reps})")
    print(f"phonemizing adds {added * 1000:.1f} ms to the probe: "
          f"{medians['espeak probe (list + words)'] / medians['voice list only']:.2f}x the list alone; "
          f"the whole espeak probe is {medians['espeak probe (list + words)'] / medians['whole checkup']:.0%} of the checkup "
          "(probes run concurrently, so it adds to the checkup only if it is the slowest)")
    print(f"whole checkup with the words / without: {medians['whole checkup'] / medians['whole checkup without words']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

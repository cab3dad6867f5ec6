"""Benchmark: `drdoctor check --json` against `python -m torch.utils.collect_env`, interleaved.

    .venv/bin/python tests/bench/bench_check.py [--reps 7]

Prints the median wall time of each, the ratio, the in-process time of run_checkup(), and how much
each reports. Runs alternate so that load from other work on the machine hits both alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def timed(argv: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO)
    return time.perf_counter() - started, done.stdout


def leaves(value) -> int:
    if isinstance(value, dict):
        return sum(leaves(v) for v in value.values())
    if isinstance(value, list):
        return sum(leaves(v) for v in value) or 1
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    from doctor.checkup import CheckupOptions, run_checkup

    check_cmd = [sys.executable, "-m", "doctor", "check", "--json"]
    collect_cmd = [sys.executable, "-m", "torch.utils.collect_env"]
    run_checkup(CheckupOptions())  # warm the file cache once, as a person's second run would be
    timed(check_cmd)
    timed(collect_cmd)

    cli, collect, in_process = [], [], []
    check_out = collect_out = ""
    for _ in range(args.reps):
        seconds, check_out = timed(check_cmd)
        cli.append(seconds)
        seconds, collect_out = timed(collect_cmd)
        collect.append(seconds)
        started = time.perf_counter()
        run_checkup(CheckupOptions())
        in_process.append(time.perf_counter() - started)

    document = json.loads(check_out)
    cli_median, collect_median = statistics.median(cli), statistics.median(collect)
    print(f"runs each: {args.reps} (interleaved)")
    print(f"drdoctor check --json      median {cli_median * 1000:7.1f} ms  (min {min(cli) * 1000:.1f})")
    print(f"run_checkup() in-process   median {statistics.median(in_process) * 1000:7.1f} ms  (min {min(in_process) * 1000:.1f})")
    print(f"torch.utils.collect_env    median {collect_median * 1000:7.1f} ms  (min {min(collect) * 1000:.1f})")
    print(f"ratio collect_env / check  {collect_median / cli_median:.1f}x")
    print(f"reported: check {leaves(document['facts'])} fact values + {len(document['findings'])} findings; "
          f"collect_env {sum(1 for line in collect_out.splitlines() if ':' in line)} 'name: value' lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())

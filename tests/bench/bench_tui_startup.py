"""Time from starting `drdoctor` (the app) to its first painted screen, and to the checkup filling in.

    .venv/bin/python tests/bench/bench_tui_startup.py [--runs 5] [-- ARGS for `drdoctor tui`]

Each sample is a fresh interpreter, measured side by side with two baselines in the same run: a bare
`python -c pass`, and `import textual.app` alone. The app runs headless (everything is composed and
rendered; only the bytes are not written to a terminal). Startup should stay under 1 s; the checkup
runs in a worker after the first paint.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys, time
spawned = float(sys.argv[1])
from doctor.commands.tui import _parser, build_options
from doctor.tui.app import DrDoctorApp

class Timed(DrDoctorApp):
    first = None
    def _display(self, screen, renderable):
        if renderable is not None and Timed.first is None:
            Timed.first = time.time()
        return super()._display(screen, renderable)
    def on_mount(self):
        self.set_interval(0.005, self._poll)
    def _poll(self):
        if self.report is not None and Timed.first is not None:
            self.exit((Timed.first - spawned, time.time() - spawned, len(self.report.findings)))

app = Timed(build_options(_parser().parse_args(sys.argv[2:])))
first, filled, findings = app.run(headless=True, size=(80, 24))
print(f"{first:.4f} {filled:.4f} {findings}")
"""


def sample(argv: list[str]) -> float:
    start = time.time()
    subprocess.run(argv, check=True, cwd=REPO, capture_output=True, timeout=60)
    return time.time() - start


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("tui_args", nargs="*", help="arguments for `drdoctor tui` (after --)")
    args = ap.parse_args()
    py = sys.executable
    bare, textual, first, filled = [], [], [], []
    findings = 0
    for _ in range(args.runs):
        bare.append(sample([py, "-c", "pass"]))
        textual.append(sample([py, "-c", "import textual.app"]))
        spawned = time.time()
        out = subprocess.run([py, "-c", CHILD, repr(spawned), *args.tui_args], check=True, cwd=REPO,
                             capture_output=True, text=True, timeout=120).stdout.split()
        first.append(float(out[0]))
        filled.append(float(out[1]))
        findings = int(out[2])
    med = statistics.median
    print(f"{'':34} {'median':>8} {'min':>8} {'max':>8}")
    for label, values in (("python -c pass", bare), ("python -c 'import textual.app'", textual),
                          ("drdoctor: first painted screen", first),
                          (f"drdoctor: checkup filled in ({findings})", filled)):
        print(f"{label:34} {med(values):>7.3f}s {min(values):>7.3f}s {max(values):>7.3f}s")
    print()
    print(f"first paint / bare interpreter = {med(first) / med(bare):.1f}x; "
          f"first paint / textual import = {med(first) / med(textual):.1f}x; "
          f"first paint {'under' if med(first) < 1 else 'OVER'} 1 s (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`drdoctor lyrics time FILE --length 95`: the LRC a run would make of untimed lyrics, printed alone.

The phone counts come from the checkout's g2p, so the work runs in the DiffRhythm environment
(`python -m runner.lyrics_cli`, like `drdoctor generate`); --diffrhythm is filled from the config.
"""

from __future__ import annotations

import argparse
import sys

from doctor import config as config_mod
from doctor.launch import LaunchError, RunnerProcess, pick_python
from runner.events import ExitCode


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="drdoctor lyrics", description="Lyrics tools.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("time", help="time untimed lyrics (plain lines, [verse]/[chorus] tags) over a song; prints LRC")
    t.add_argument("file", help="a text file: one sung line per line; section tags and blank lines are breaks")
    t.add_argument("--length", type=float, required=True, help="song length in seconds: 95, or 96-285")
    t.add_argument("--diffrhythm", metavar="DIR", help="the checkout whose g2p counts phones (default: config)")
    t.add_argument("--bundle", metavar="DIR", help="a tiny self-test bundle instead of a checkout")
    t.add_argument("--python", help="interpreter of the DiffRhythm environment (default: config, then this one)")
    return p


def main(argv: list[str]) -> int:
    ns = _parser().parse_args(argv)
    try:
        config = config_mod.load()
    except config_mod.ConfigError as exc:
        print(f"drdoctor lyrics: {exc}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    args = ["time", ns.file, "--length", str(ns.length)]
    if ns.bundle:
        args += ["--bundle", ns.bundle]
    else:
        root = ns.diffrhythm or config_mod.get(config, "diffrhythm", "root")
        if root:
            args += ["--diffrhythm", str(root)]
    try:
        child = RunnerProcess(pick_python(ns.python, config), args, module="runner.lyrics_cli")
    except LaunchError as exc:
        print(f"drdoctor lyrics: {exc}", file=sys.stderr)
        return int(ExitCode.ENVIRONMENT)
    for raw in child.lines():
        sys.stdout.write(raw.decode("utf-8", "replace"))
    sys.stdout.flush()
    code = child.wait()
    if code != 0:
        print("\n".join(child.stderr_tail), file=sys.stderr)
    return code

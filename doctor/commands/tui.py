"""`drdoctor tui` (and `drdoctor` alone): the interactive app."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from doctor.commands.target import add_target_options, checkup_options, target_problem


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="drdoctor tui", description="Open the interactive app.")
    add_target_options(p, python_help="interpreter of the DiffRhythm environment (default: config, else this one)")
    p.add_argument("--deep", action="store_true", help="the checkup also imports torch in the target and hashes the weights")
    p.add_argument("--ram", metavar="SIZE", help="the Windows host's RAM for wsl.memory sizing, e.g. 32GB (as `drdoctor fix`)")
    p.add_argument("--wslconfig", metavar="PATH", help="the Windows user's .wslconfig (as `drdoctor fix`)")
    p.add_argument("--bundle", metavar="DIR", help="use a tiny self-test bundle instead of a checkout")
    p.add_argument("--run-dir", default="runs", metavar="DIR", help="where run folders go (default ./runs)")
    p.add_argument("--lyrics", metavar="SONG.lrc", help="prefill the generate form")
    p.add_argument("--style", metavar="TEXT", help="prefill the generate form")
    p.add_argument("--out", default="song.wav", metavar="SONG.wav")
    p.add_argument("--container", action="store_true", help="preselect running in the CUDA container")
    p.add_argument("--no-checkup", action="store_true", help="do not start the checkup when the app opens")
    p.add_argument("--install-args", metavar="ARGS", default="",
                   help="more arguments for the Install mode's `drdoctor install`, e.g. '--torch-variant cu130'")
    p.add_argument("--mode", choices=("checkup", "generate", "runs", "install"), default=None, help="screen to open on")
    return p


def build_options(ns: argparse.Namespace):
    from doctor.fixes.gather import FixOptions
    from doctor.tui.options import TuiOptions
    from doctor.wslconfig import parse_size

    ram = parse_size(ns.ram) if ns.ram else None
    if ns.ram and not ram:
        raise SystemExit(f"drdoctor tui: --ram {ns.ram!r}: expected a size like 32GB")

    return TuiOptions(
        checkup=checkup_options(ns, deep=ns.deep),
        fix=FixOptions(ram=ram, wslconfig=ns.wslconfig),
        python=ns.python, diffrhythm=ns.diffrhythm, models=ns.models, bundle=ns.bundle, run_dir=Path(ns.run_dir),
        out=ns.out, lyrics=ns.lyrics, style=ns.style, autostart_checkup=not ns.no_checkup,
        container=ns.container, install_args=shlex.split(ns.install_args),
    )


def main(argv: list[str]) -> int:
    ns = _parser().parse_args(argv)
    if problem := target_problem(ns):
        print(f"drdoctor tui: {problem}", file=sys.stderr)
        return 2
    from doctor.tui.app import DrDoctorApp

    app = DrDoctorApp(build_options(ns), mode=ns.mode)
    app.run()
    return int(app.return_code or 0)

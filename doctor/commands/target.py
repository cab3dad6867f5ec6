"""Which machine and DiffRhythm install a command looks at: the options `check`, `fix` and `tui` share."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from doctor.probes._fs import at
from runner import locations


def add_target_options(p: argparse.ArgumentParser, *, python_help: str) -> None:
    p.add_argument("--python", metavar="PATH", help=python_help)
    p.add_argument("--diffrhythm", metavar="DIR", help="the DiffRhythm checkout")
    p.add_argument("--models", metavar="DIR", help="a folder holding model weights (plain or Hugging Face cache layout)")
    p.add_argument("--root", metavar="DIR", default="/", help=argparse.SUPPRESS)  # a fixture filesystem (tests)
    p.add_argument("--nvml-snapshot", metavar="FILE", help=argparse.SUPPRESS)  # recorded GPU facts (tests)


def target_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the target options, as a message for the user; None when they are usable."""
    if args.python and not Path(args.python).is_file():
        return (f"--python {args.python}: no such file; give the path of the DiffRhythm environment's "
                "interpreter, e.g. ~/DiffRhythm/.venv/bin/python")
    if not Path(args.root).is_dir():
        return f"--root {args.root}: not a folder"
    for flag, value, what in (("--diffrhythm", args.diffrhythm, "the folder of the DiffRhythm checkout"),
                              ("--models", args.models, "a folder holding model weights")):
        if value:
            folder = at(Path(args.root), locations.expand(value, os.environ))
            if not folder.is_dir():
                found = "is a file, not a folder" if folder.exists() else "no such folder"
                return f"{flag} {value}: {found}; give {what}"
    return None


def checkup_options(args: argparse.Namespace, *, deep: bool = False):
    from doctor.checkup import CheckupOptions
    from doctor.probes.nvml import recorded

    return CheckupOptions(
        root=Path(args.root),
        python=args.python,
        diffrhythm=args.diffrhythm,
        models=args.models,
        deep=deep,
        nvml=recorded(Path(args.nvml_snapshot)) if args.nvml_snapshot else None,
    )

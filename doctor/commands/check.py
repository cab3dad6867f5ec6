"""`drdoctor check`: inspect this machine and the DiffRhythm install, print findings, exit 0/1/2.

2 is bad arguments or a config file that cannot be read (the message names it, and the byte when it is not text).
"""

from __future__ import annotations

import argparse
import json
import sys

from doctor.commands.target import add_target_options, checkup_options, target_problem
from doctor.config import ConfigError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="drdoctor check",
        description="Inspect this machine and the DiffRhythm install. Exit 0: nothing failed; 1: a check failed; "
        "2: bad arguments or an unreadable config file.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document (facts and findings)")
    p.add_argument("--redact", action="store_true", help="replace home folders and user names (for bug reports)")
    p.add_argument("--deep", action="store_true", help="also import torch in the target and hash the weight files (slow)")
    add_target_options(p, python_help="interpreter of the DiffRhythm environment (default: config, else this one)")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if problem := target_problem(args):
        print(f"drdoctor check: {problem}", file=sys.stderr)
        return EXIT_USAGE

    from doctor.checkup import run_checkup
    from doctor.report import render_text

    try:
        report = run_checkup(checkup_options(args, deep=args.deep))
    except ConfigError as exc:
        print(f"drdoctor check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(report.to_json(redact=args.redact), indent=1))
    else:
        sys.stdout.write(render_text(report, colour=sys.stdout.isatty(), redact=args.redact))
    return EXIT_FAILED if report.failed else EXIT_OK

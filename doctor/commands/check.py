"""`drdoctor check`: inspect this machine and the DiffRhythm install, print findings, exit 0/1/2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from doctor.config import ConfigError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="drdoctor check",
        description="Inspect this machine and the DiffRhythm install. Exit 0: nothing failed; 1: a check failed; 2: bad arguments.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document (facts and findings)")
    p.add_argument("--redact", action="store_true", help="replace home folders and user names (for bug reports)")
    p.add_argument("--deep", action="store_true", help="also import torch in the target and hash the weight files (slow)")
    p.add_argument("--python", metavar="PATH", help="interpreter of the DiffRhythm environment (default: config, else this one)")
    p.add_argument("--diffrhythm", metavar="DIR", help="the DiffRhythm checkout")
    p.add_argument("--models", metavar="DIR", help="a folder holding model weights (plain or Hugging Face cache layout)")
    p.add_argument("--root", metavar="DIR", default="/", help=argparse.SUPPRESS)
    p.add_argument("--nvml-snapshot", metavar="FILE", help=argparse.SUPPRESS)
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.python and not Path(args.python).is_file():
        print(f"drdoctor check: --python {args.python}: no such file; give the path of the DiffRhythm "
              "environment's interpreter, e.g. ~/DiffRhythm/.venv/bin/python", file=sys.stderr)
        return EXIT_USAGE
    root = Path(args.root)
    if not root.is_dir():
        print(f"drdoctor check: --root {args.root}: not a folder", file=sys.stderr)
        return EXIT_USAGE

    from doctor.checkup import CheckupOptions, run_checkup
    from doctor.probes.nvml import recorded
    from doctor.report import render_text

    options = CheckupOptions(
        root=root,
        python=args.python,
        diffrhythm=args.diffrhythm,
        models=args.models,
        deep=args.deep,
        nvml=recorded(Path(args.nvml_snapshot)) if args.nvml_snapshot else None,
    )
    try:
        report = run_checkup(options)
    except ConfigError as exc:
        print(f"drdoctor check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(report.to_json(redact=args.redact), indent=1))
    else:
        sys.stdout.write(render_text(report, colour=sys.stdout.isatty(), redact=args.redact))
    return EXIT_FAILED if report.failed else EXIT_OK

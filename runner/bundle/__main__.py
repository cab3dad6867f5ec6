"""`python -m runner.bundle build DIR [--seed N]`: write the tiny bundle (used by `drdoctor selftest`)."""

from __future__ import annotations

import argparse
import sys

from runner.bundle.build import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.bundle")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the tiny bundle into DIR")
    b.add_argument("dir")
    b.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    folder = build(args.dir, args.seed)
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())

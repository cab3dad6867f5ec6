"""`drdoctor fix [ID ...]`: plan the fixes for what the checkup found, show them, apply them with consent.

    drdoctor fix                      every fix the current findings point to
    drdoctor fix wsl.memory hf.offline   only those
    drdoctor fix --dry-run            print the plans (commands as argument lists, edits as diffs); change nothing
    drdoctor fix --yes                apply without asking (needed when there is no terminal to ask on)

Exit status: 0 applied or nothing to do, 1 a step failed (its plan's file edits were rolled back),
2 bad arguments, an unknown fix id, consent refused, or a file a fix must read that is not text (its name, the
byte and its offset are printed; nothing is changed), 130 interrupted (Ctrl-C; rolled back too).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from doctor.commands.target import add_target_options, checkup_options, target_problem
from doctor.config import ConfigError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def parser() -> argparse.ArgumentParser:
    from doctor.fixes import FIXES

    ids = "\n".join(f"  {fix_id:<17} {summary}" for fix_id, (_, summary) in FIXES.items())
    p = argparse.ArgumentParser(
        prog="drdoctor fix",
        description="Plan and apply fixes for what the checkup found. Every step is shown first; edited files "
        "are backed up next to themselves (NAME.drdoctor-YYYYmmddTHHMMSS.bak).",
        epilog=f"fix ids:\n{ids}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("ids", nargs="*", metavar="ID", help="fixes to plan (default: every fix the findings point to)")
    p.add_argument("--dry-run", action="store_true", help="print the plans and change nothing")
    p.add_argument("--yes", "-y", action="store_true", help="apply every step without asking")
    p.add_argument("--json", action="store_true", help="with --dry-run: print the plans as one JSON document")
    add_target_options(p, python_help="interpreter of the DiffRhythm environment (the TARGET of package fixes)")
    p.add_argument("--wslconfig", metavar="PATH", help="the Windows user's .wslconfig (default: /mnt/c/Users/<you>/.wslconfig)")
    p.add_argument("--ram", metavar="SIZE", help="the Windows host's RAM for wsl.memory sizing, e.g. 32GB (default: asked or inferred)")
    p.add_argument("--driver-cuda", metavar="X.Y", help="plan torch for a driver supporting this CUDA version (default: NVML)")
    p.add_argument("--compute-capability", metavar="X.Y", help="plan torch for this GPU compute capability (default: NVML)")
    p.add_argument("--torch-version", metavar="V", help="install this torch release instead of the newest that fits (e.g. 2.11)")
    p.add_argument("--index-url", metavar="URL", help="pip index for the installs (env DRDOCTOR_PIP_INDEX_URL)")
    p.add_argument("--find-links", metavar="DIR", action="append", default=[],
                   help="a folder of wheels; without --index-url the installs run offline with --no-index (env DRDOCTOR_PIP_FIND_LINKS)")
    p.add_argument("--online", action="store_true", help="this machine can reach huggingface.co: models.paths may re-download broken files")
    p.add_argument("--restart", action="store_true", help="with --yes: also run offered restarts (wsl.exe --shutdown)")
    return p


class UsageError(Exception):
    pass


def _options(args: argparse.Namespace):
    from doctor.fixes.gather import FixOptions, parse_cuda
    from doctor.wslconfig import parse_size

    if problem := target_problem(args):
        raise UsageError(problem)
    if args.json and not args.dry_run:
        raise UsageError("--json prints plans: use it with --dry-run")
    ram = None
    if args.ram:
        ram = parse_size(args.ram)
        if not ram:
            raise UsageError(f"--ram {args.ram!r}: expected a size like 32GB")
    try:
        driver = parse_cuda(args.driver_cuda) if args.driver_cuda else None
        capability = parse_cuda(args.compute_capability) if args.compute_capability else None
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return FixOptions(
        root=Path(args.root),
        python=args.python,
        diffrhythm=args.diffrhythm,
        models=(args.models,) if args.models else (),
        wslconfig=args.wslconfig,
        ram=ram,
        driver_cuda=driver,
        compute_capability=capability,
        torch_version=args.torch_version,
        index_url=args.index_url,
        find_links=tuple(args.find_links),
        online=args.online,
    )


def _checkup(args: argparse.Namespace):
    from doctor.checkup import run_checkup

    return run_checkup(checkup_options(args))


def _asker(assume_yes: bool):
    def confirm(question: str) -> bool:
        if assume_yes:
            return True
        try:
            answer = input(f"  ? {question} [y/N] ")
        except EOFError:
            return False
        return answer.strip().lower() in ("y", "yes")

    return confirm


def main(argv: list[str]) -> int:
    from doctor.fixes import FIXES
    from doctor.fixes.session import FixSession
    from runner.textfile import Unreadable

    p = parser()
    args = p.parse_args(argv)
    unknown = [i for i in args.ids if i not in FIXES]
    if unknown:
        known = "\n".join(f"  {fix_id:<17} {summary}" for fix_id, (_, summary) in FIXES.items())
        print(f"drdoctor fix: unknown fix id {', '.join(map(repr, unknown))}; the known ids are:\n{known}", file=sys.stderr)
        return EXIT_USAGE
    try:
        options = _options(args)
        session = FixSession(options, _checkup(args), recheck=lambda: _checkup(args))
        chosen = session.chosen(args.ids)
        plans = [session.plan(fix_id) for fix_id in chosen]
    except (UsageError, ConfigError, Unreadable) as exc:
        print(f"drdoctor fix: {exc}; nothing was changed", file=sys.stderr)
        return EXIT_USAGE

    if not chosen:
        print("drdoctor fix: nothing to fix: no finding of the checkup points to a fix (see `drdoctor check`).")
        return EXIT_OK

    if args.dry_run:
        if args.json:
            print(json.dumps({"version": 1, "dry_run": True, "plans": [plan.to_json() for plan in plans]}, indent=1))
        else:
            print(f"drdoctor fix --dry-run: {len(plans)} fix(es); nothing is changed.\n")
            print("\n\n".join(plan.render() for plan in plans))
            if len(plans) > 1:
                print("\n(each plan is made again just before it is applied, so a later plan sees what the earlier ones changed)")
        return EXIT_OK

    interactive = sys.stdin.isatty()
    if any(not plan.empty and not plan.blocked for plan in plans) and not args.yes and not interactive:
        print("drdoctor fix: refusing to change anything: there is no terminal to ask for consent on. "
              "Re-run with --yes to apply every step (see them first with --dry-run).", file=sys.stderr)
        return EXIT_USAGE

    confirm = _asker(args.yes)
    backups: list[Path] = []
    exit_code = EXIT_OK
    for fix_id in chosen:
        try:
            plan = session.plan(fix_id)  # fresh: earlier fixes may have changed what this one sees
        except Unreadable as exc:
            print(f"drdoctor fix: {exc}; {fix_id} changed nothing", file=sys.stderr)
            exit_code = EXIT_USAGE
            break
        print(plan.render())
        if plan.blocked or plan.empty:
            print()
            continue
        outcome = session.apply(plan, confirm, sys.stdout, followups=interactive and not args.yes or args.restart)
        result = outcome.result
        backups += result.backups
        if result.state == "declined":
            print(f"  declined: {result.message}")
            exit_code = EXIT_USAGE
            break
        if result.state in ("failed", "interrupted"):
            print(f"  {result.state.upper()}: {result.message}")
            if result.restored or result.removed:
                print("  rolled back: " + ", ".join(str(p) for p in result.restored + result.removed))
            if result.commands_run:
                print("  commands that ran before it (their effects are not undone): "
                      + "; ".join(repr(list(a)) for a in result.commands_run))
            exit_code = EXIT_FAILED if result.state == "failed" else EXIT_INTERRUPTED
            break
        if outcome.verified:
            print(f"  verified: {outcome.verification}")
        else:
            print(f"  not verified: planning {fix_id} again still finds work: {outcome.verification}")
        for check_id in outcome.checks:
            before, after = outcome.before.get(check_id, "?"), outcome.after.get(check_id, "?")
            unchanged = before == after and plan.needs_restart
            print(f"  check {check_id}: {before} -> {after}"
                  + ("  (judged on the running system: after the restart it can change)" if unchanged else ""))
        if plan.needs_restart:
            print("  restart needed: " + next((n for n in plan.notes if "shutdown" in n), "restart for the change to apply"))
        print()
    if backups:
        print("backups:")
        for path in backups:
            print(f"  {path}")
    return exit_code

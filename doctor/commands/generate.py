"""`drdoctor generate`: make a song with the hardened runner, showing its progress; exits with its exit code.

Options for drdoctor itself: --python PY (the interpreter of the DiffRhythm environment), --json (print the
runner's events as they come instead of the display). Every other option goes to `python -m runner`;
`--help` lists them from the runner's own definitions (runner/request.py). --diffrhythm and --models are
filled from the config when not given.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from doctor import config as config_mod
from doctor.discovery import Target, discover
from doctor.launch import ForwardSigint, LaunchError, RunnerProcess, diagnose_no_events
from doctor.run_view import RunView
from runner.events import ExitCode
from runner.request import MODEL_ROLES, add_request_arguments

# where `drdoctor generate` gives a runner option another meaning than `python -m runner` does
GENERATE_HELP = {
    "--diffrhythm": "DiffRhythm checkout (default: [diffrhythm] root in drdoctor's config)",
    "--models": "folder holding the model files (default: [models] dir in drdoctor's config)",
    "--fault": argparse.SUPPRESS,  # the self-test's switch (`drdoctor selftest`)
}


def _parser(with_runner_options: bool = False) -> argparse.ArgumentParser:
    """drdoctor's own options; with the runner's (from runner/request.py, the one definition) for --help."""
    p = argparse.ArgumentParser(prog="drdoctor generate", description="Make a song with the hardened runner.",
                                add_help=False)
    p.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    p.add_argument("--python", help="interpreter of the DiffRhythm environment (default: config, then this one)")
    p.add_argument("--json", action="store_true", help="print the runner's events (NDJSON) instead of the display")
    if with_runner_options:
        add_request_arguments(p.add_argument_group("runner options (passed through to `python -m runner`)"),
                              GENERATE_HELP)
    return p


def _has(args: list[str], option: str) -> bool:
    return any(a == option or a.startswith(option + "=") for a in args)


def runner_args(rest: list[str], config: dict[str, Any], target: Target | None = None) -> list[str]:
    """The runner's arguments: the user's, plus the checkout and models `doctor.discovery` finds (the same
    discovery `drdoctor check` reports) when missing."""
    args = list(rest)
    if _has(args, "--bundle") or _has(args, "--resume"):
        return args
    target = target or discover(config=config)
    if target.checkout and not _has(args, "--diffrhythm"):
        args += ["--diffrhythm", target.checkout]
    if not _has(args, "--models") and not _has(args, "--model-file"):
        if target.models_dirs:
            args += ["--models", target.models_dirs[0]]
        args += [item for key, path in target.models.items() if key in MODEL_ROLES
                 for item in ("--model-file", f"{key}={path}")]
    return args


def main(argv: list[str]) -> int:
    ns, rest = _parser().parse_known_args(argv)
    if ns.help:
        _parser(with_runner_options=True).print_help()
        return 0
    try:
        config = config_mod.load()
    except config_mod.ConfigError as exc:
        print(f"drdoctor generate: {exc}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    target = discover(python=ns.python, config=config)
    args = runner_args(rest, config, target)
    if not any(_has(args, o) for o in ("--diffrhythm", "--bundle", "--resume")):
        print("drdoctor generate: no DiffRhythm checkout found; looked in " + ", ".join(target.tried)
              + "\n  what to do: run `drdoctor install`, or give --diffrhythm DIR (or set [diffrhythm] root in the config)",
              file=sys.stderr)
        return int(ExitCode.ENVIRONMENT)
    try:
        runner = RunnerProcess(target.python, args)
    except LaunchError as exc:
        print(f"drdoctor generate: {exc}\n  what to do: run `drdoctor check` (is [diffrhythm] python right?)",
              file=sys.stderr)
        return int(ExitCode.ENVIRONMENT)
    view = None if ns.json else RunView(sys.stdout)
    finished = None
    with ForwardSigint(runner):
        if ns.json:
            for raw in runner.lines():
                sys.stdout.write(raw.decode("utf-8", "replace"))
                sys.stdout.flush()
                if b'"run_finished"' in raw:
                    finished = True
        else:
            assert view is not None
            for event in runner.events():
                view.feed(event)
            view.close()
            finished = view.state.finished is not None
        code = runner.wait()
    if not finished:
        code, message, remedy = diagnose_no_events(code, list(runner.stderr_tail))
        print(f"drdoctor generate: {message}\n  what to do: {remedy}", file=sys.stderr)
    elif code == int(ExitCode.FAILURE) and runner.stderr_tail and view is not None:
        print("runner stderr (last lines):\n  " + "\n  ".join(list(runner.stderr_tail)[-10:]), file=sys.stderr)
    return code

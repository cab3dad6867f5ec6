"""`drdoctor` entry point: a table of sub-commands, each imported only when it runs.

Every command's output may go to a pipe whose reader stops early; that is handled here, once, for all of them.
"""

from __future__ import annotations

import importlib
import os
import sys

from doctor import __version__

# name -> (module with `main(argv) -> int`, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "install": ("doctor.commands.install", "install DiffRhythm: checkout, environment, weights, config"),
    "check": ("doctor.commands.check", "inspect this machine and the DiffRhythm install"),
    "fix": ("doctor.commands.fix", "plan and apply fixes for what the checkup found"),
    "generate": ("doctor.commands.generate", "make a song with the hardened runner"),
    "selftest": ("doctor.commands.selftest", "run the pipeline and its faults on a tiny bundle"),
    "lyrics": ("doctor.commands.lyrics", "time untimed lyrics over a song (prints LRC)"),
    "container": ("doctor.commands.container", "build, pull and run the CUDA container"),
    "tui": ("doctor.commands.tui", "open the interactive app (the default)"),
    "queue": ("doctor.commands.queue", "song jobs in the job database: add, list, show, cancel, retry, stats"),
    "worker": ("doctor.commands.worker", "run queued song jobs, one at a time per GPU"),
    "serve": ("doctor.commands.serve", "the HTTP API and page for song jobs (loopback unless given a token)"),
}

USAGE_EXIT = 2
# stdout's reader went away (`drdoctor fix --dry-run | head -1`): stop quietly with the status a program killed by
# SIGPIPE has (128 + 13), as `yes | head -1` does. A fix being applied has already rolled back by then: a failed
# write to stdout fails its step, and the step's edits are undone (doctor/fixes/apply.py).
BROKEN_PIPE_EXIT = 141


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: drdoctor [COMMAND] [ARGS...]   (no command opens the interactive app)", ""]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "`drdoctor COMMAND --help` describes a command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            return _run(sys.argv[1:] if argv is None else argv)
        finally:  # also after argparse's exit: a reader gone before the last buffered line is the same case
            sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's own flush at exit cannot raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return BROKEN_PIPE_EXIT


def _run(args: list[str]) -> int:
    if not args:
        args = ["tui"]
    name, rest = args[0], args[1:]
    if name in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if name in ("-V", "--version"):
        print(f"drdoctor {__version__}")
        return 0
    if name not in COMMANDS:
        print(f"drdoctor: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return USAGE_EXIT
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)

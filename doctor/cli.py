"""`drdoctor` entry point: a table of sub-commands, each imported only when it runs."""

from __future__ import annotations

import importlib
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
}

USAGE_EXIT = 2


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: drdoctor [COMMAND] [ARGS...]   (no command opens the interactive app)", ""]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "`drdoctor COMMAND --help` describes a command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
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

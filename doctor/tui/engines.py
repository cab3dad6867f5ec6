"""The app's only door to the engines: the checkup, the fixes, the report.

Every function here runs in a worker thread and calls the code `drdoctor check` and `drdoctor fix`
call; imports are deferred so the app paints before the engines load.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

from doctor.findings import Finding


def stream_checkup(options: Any, on_finding: Callable[[Finding], None]) -> Any:
    """Run the checkup, calling `on_finding` as each probe's findings are known; returns the Report."""
    from doctor.checkup import CheckupOptions, run_checkup

    def step(done) -> None:
        for finding in done.findings:
            on_finding(finding)

    return run_checkup(options if options is not None else CheckupOptions(), on_step=step)


def report_findings(report: Any) -> list[Finding]:
    return list(getattr(report, "findings", []) or [])


def report_json(report: Any, *, redact: bool = True) -> str:
    return json.dumps(report.to_json(redact=redact), indent=1)


def fix_options(checkup: Any, base: Any = None) -> Any:
    """`FixOptions` for the checkup's machine: `base` (flags such as the host RAM) with the checkup's
    root, interpreter, checkout and models laid over it."""
    from doctor.checkup import CheckupOptions
    from doctor.fixes.gather import FixOptions

    checkup = checkup if checkup is not None else CheckupOptions()
    base = base if base is not None else FixOptions()
    updates: dict[str, Any] = {"root": Path(checkup.root)}
    if checkup.python:
        updates["python"] = checkup.python
    if checkup.diffrhythm:
        updates["diffrhythm"] = checkup.diffrhythm
    if checkup.models:
        updates["models"] = (checkup.models,)
    if checkup.env is not None:
        updates["env"] = dict(checkup.env)
    return dataclasses.replace(base, **updates)


def fix_session(checkup: Any, report: Any, base: Any = None) -> Any:
    """The fix orchestration `drdoctor fix` uses, for the checkup's machine and facts."""
    from doctor.fixes.session import FixSession

    return FixSession(fix_options(checkup, base), report)


def plan_fix(fix_id: str, checkup: Any, report: Any, base: Any = None) -> Any:
    """The Plan for `fix_id`, made from the checkup's facts as `drdoctor fix` makes it."""
    from doctor.fixes import FIXES

    if fix_id not in FIXES:
        return None
    return fix_session(checkup, report, base).plan(fix_id)


def apply_fix(plan: Any, checkup: Any, report: Any, base: Any, out: Any) -> Any:
    """Apply `plan`'s steps (consent was given in the dialog), streaming output to `out`; a FixOutcome
    (`.result`, and `.checks`: the checks to judge again).

    Follow-ups (such as `wsl.exe --shutdown`) are shown in the dialog but not run from the app."""
    return fix_session(checkup, report, base).apply(plan, confirm=lambda question: True, out=out, followups=False)


def plan_install(args: list[str]) -> Any:
    """The InstallPlan `drdoctor install ARGS` would apply (its own parser and planner, reachability included);
    raises ValueError (or runner.family.FamilyError) for bad arguments."""
    from doctor.commands import install

    try:
        parsed = install.parser().parse_args(args)
    except SystemExit as exc:  # argparse: a bad option (its message went to stderr)
        raise ValueError(f"drdoctor install {' '.join(args)}: bad arguments") from exc
    return install.make_plan(parsed)[1]

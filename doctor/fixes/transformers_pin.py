"""`transformers.pin`: a transformers release upstream's DiT works with, in the target environment.

Rule (shared/DIFFRHYTHM.md, measured on upstream's code): ok for >=4.43,<4.54; from 4.54 on the
decoder layer no longer returns a tuple and the DiT forward fails. Fix: transformers==4.53.3, the
newest compatible release (upstream's own pin is 4.49.0).
"""

from __future__ import annotations

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from doctor.fixes.context import FixContext
from doctor.fixes.plan import CommandStep, Plan

FIX_ID = "transformers.pin"
TITLE = "install transformers 4.53.3 (the newest release upstream's DiT works with)"
COMPATIBLE = SpecifierSet(">=4.43,<4.54")
PIN = "4.53.3"


def compatible(version: str | None) -> bool:
    if not version:
        return False
    try:
        return Version(version) in COMPATIBLE
    except InvalidVersion:
        return False


def plan(ctx: FixContext) -> Plan:
    if problem := ctx.target_unusable():
        return Plan(FIX_ID, TITLE, blocked=problem)
    installed = ctx.packages.get("transformers")
    if compatible(installed):
        return Plan(FIX_ID, TITLE, done_reason=f"transformers {installed} is in {COMPATIBLE} in {ctx.python}")
    argv = [*ctx.pip_cmd(), "install", f"transformers=={PIN}", *ctx.pip.args()]
    what = (f"replace transformers {installed} with transformers {PIN}" if installed
            else f"install transformers {PIN} (none is installed)")
    return Plan(
        FIX_ID,
        TITLE,
        steps=(CommandStep(tuple(argv), f"{what} in {ctx.python}", timeout=1800),),
        notes=(f"upstream's DiT works with transformers {COMPATIBLE}; 4.54+ breaks its decoder-layer call",),
    )

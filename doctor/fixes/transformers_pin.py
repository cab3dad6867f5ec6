"""`transformers.pin`: a transformers release upstream's DiT works with, in the target environment.

The range and the release to install are data (runner/data/packages.json, `runner.package_rules`), shared with
the pkg.transformers check and the runner's own refusal.
"""

from __future__ import annotations

from doctor.fixes.context import FixContext
from doctor.fixes.plan import CommandStep, Plan
from runner.package_rules import package_rule

FIX_ID = "transformers.pin"
RULE = package_rule("transformers")
TITLE = f"install transformers {RULE.pin} (the newest release upstream's DiT works with)"


def plan(ctx: FixContext) -> Plan:
    if problem := ctx.target_unusable():
        return Plan(FIX_ID, TITLE, blocked=problem)
    installed = ctx.packages.get("transformers")
    if RULE.accepts(installed):
        return Plan(FIX_ID, TITLE, done_reason=f"transformers {installed} is in {RULE.works} in {ctx.python}")
    argv = [*ctx.pip_cmd(), "install", RULE.requirement, *ctx.pip.args()]
    what = (f"replace transformers {installed} with transformers {RULE.pin}" if installed
            else f"install transformers {RULE.pin} (none is installed)")
    return Plan(
        FIX_ID,
        TITLE,
        steps=(CommandStep(tuple(argv), f"{what} in {ctx.python}", timeout=1800),),
        notes=(f"upstream's DiT works with transformers {RULE.works}; {RULE.breaks}",),
    )

"""`hf.offline`: `[run] hf_hub_offline = true` in drdoctor's config, so runs set HF_HUB_OFFLINE=1.

Only when the local weights are complete: offline mode with a partial cache fails on the first look-up.
"""

from __future__ import annotations

from doctor import config as config_mod
from doctor.fixes.context import FixContext
from doctor.fixes.plan import Plan, edit

FIX_ID = "hf.offline"
TITLE = "run with HF_HUB_OFFLINE=1 (the local weights are complete)"


def plan(ctx: FixContext) -> Plan:
    if ctx.config_path is None:
        return Plan(FIX_ID, TITLE, blocked="no config file location")
    current = config_mod.load(ctx.config_path)
    if config_mod.get(current, "run", "hf_hub_offline") is True:
        return Plan(FIX_ID, TITLE, done_reason=f"hf_hub_offline = true already in {ctx.config_path}")
    if not ctx.models_complete:
        return Plan(FIX_ID, TITLE, blocked="the local weights are not complete; run `drdoctor fix models.paths` first")
    new_text = config_mod.updated_text(ctx.config_path, {"run": {"hf_hub_offline": True}})
    step = edit(ctx.config_path, new_text, f"set [run] hf_hub_offline = true in {ctx.config_path}")
    return Plan(
        FIX_ID,
        TITLE,
        steps=(step,) if step else (),
        done_reason="config already says so",
        notes=("drdoctor generate then runs the model with HF_HUB_OFFLINE=1: no network look-ups",),
    )

"""Fixes: each a plan first (`plan.py`), then applied with consent, backups and rollback (`apply.py`).

One module per fix, each with `FIX_ID`, `TITLE` and `plan(context) -> Plan`. The checks name these ids in
`Finding.fix`; `drdoctor fix ID` plans and applies them.
"""

from __future__ import annotations

import importlib

from doctor.fixes.context import FixContext
from doctor.fixes.plan import Plan
from runner.package_rules import package_rule

_TRANSFORMERS = package_rule("transformers")

# id -> (module, one-line summary), in the order they are applied (drivers and packages first,
# then files, then the hand-over).
FIXES: dict[str, tuple[str, str]] = {
    "torch.reinstall": ("doctor.fixes.torch_reinstall", "install the torch build the NVIDIA driver and GPU can run"),
    "transformers.pin": ("doctor.fixes.transformers_pin", f"install {_TRANSFORMERS.requirement} (upstream's DiT "
                         f"works with {_TRANSFORMERS.works})"),
    "espeak.install": ("doctor.fixes.espeak_install", "install espeak-ng with the distro's package manager"),
    "wsl.memory": ("doctor.fixes.wsl_memory", "set [wsl2] memory= and swap= in the Windows .wslconfig"),
    "models.paths": ("doctor.fixes.models_paths", "record where the weights are; list broken downloads"),
    "hf.offline": ("doctor.fixes.hf_offline", "run with HF_HUB_OFFLINE=1 when the local weights are complete"),
    "container.use": ("doctor.fixes.container_use", "generate in the CUDA container instead"),
}


def plan_for(fix_id: str, context: FixContext) -> Plan:
    """The plan of one fix for this context; KeyError for an unknown id."""
    module = importlib.import_module(FIXES[fix_id][0])
    return module.plan(context)

"""pkg.*: Python packages of the target environment whose versions decide whether the DiT runs."""

from __future__ import annotations

from doctor.checks.registry import check
from doctor.facts import Facts
from doctor.findings import Finding, Status
from runner.package_rules import package_rule


@check("pkg.transformers", "python")
def transformers(facts: Facts) -> Finding:
    py, rule = facts.python, package_rule("transformers")
    if py.error:
        return Finding("pkg.transformers", Status.SKIP, f"cannot read the packages of {py.python}", py.error)
    found = py.packages.get("transformers")
    pin = f"{py.python} -m pip install {rule.requirement}"
    if found is None:
        return Finding(
            "pkg.transformers", Status.FAIL, f"transformers is not installed in {py.python}",
            f"The DiT is built from transformers' LlamaDecoderLayer. Install it: {pin}", fix="transformers.pin",
        )
    if rule.accepts(found):
        return Finding("pkg.transformers", Status.OK, f"transformers {found} (works: {rule.works})")
    return Finding(
        "pkg.transformers", Status.FAIL, f"transformers {found} is outside {rule.works}",
        f"{rule.breaks[0].upper()}{rule.breaks[1:]}; {rule.measured}. Pin it: {pin}", fix="transformers.pin",
    )

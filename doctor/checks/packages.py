"""pkg.*: Python packages of the target environment whose versions decide whether the DiT runs."""

from __future__ import annotations

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from doctor.checks.registry import check
from doctor.facts import Facts
from doctor.findings import Finding, Status

# Measured on upstream's DiT (DIFFRHYTHM.md): identical output 4.43.4 - 4.53.3, broken from 4.54.0.
TRANSFORMERS_WORKING = SpecifierSet(">=4.43,<4.54")
TRANSFORMERS_PIN = "4.53.3"


@check("pkg.transformers", "python")
def transformers(facts: Facts) -> Finding:
    py = facts.python
    if py.error:
        return Finding("pkg.transformers", Status.SKIP, f"cannot read the packages of {py.python}", py.error)
    found = py.packages.get("transformers")
    pin = f"{py.python} -m pip install transformers=={TRANSFORMERS_PIN}"
    if found is None:
        return Finding(
            "pkg.transformers", Status.FAIL, f"transformers is not installed in {py.python}",
            f"The DiT is built from transformers' LlamaDecoderLayer. Install it: {pin}", fix="transformers.pin",
        )
    try:
        works = Version(found) in TRANSFORMERS_WORKING
    except InvalidVersion:
        works = False
    if works:
        return Finding("pkg.transformers", Status.OK, f"transformers {found} (works: {TRANSFORMERS_WORKING})")
    return Finding(
        "pkg.transformers", Status.FAIL, f"transformers {found} is outside {TRANSFORMERS_WORKING}",
        "From 4.54 the decoder layer no longer returns a tuple and the DiT fails with 'The size of tensor a (32) "
        f"must match the size of tensor b'; versions before 4.43 are untested. Pin it: {pin}", fix="transformers.pin",
    )

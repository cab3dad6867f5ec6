"""Which releases of a Python package DiffRhythm's code works with: data (`runner/data/packages.json`), read by the
doctor's pkg.* check, the transformers.pin fix and the runner's own refusal alike. Torch-free, stdlib only at import.

    rule = package_rule("transformers")
    rule.works          # ">=4.43,<4.54"
    rule.pin            # "4.53.3": what the fix installs
    rule.accepts("4.57.1")  # False
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGES_PATH = Path(__file__).parent / "data" / "packages.json"


@dataclass(frozen=True)
class PackageRule:
    name: str
    works: str      # a PEP 440 specifier set
    pin: str        # the release to install when the one there does not work
    measured: str   # how the range was found
    breaks: str     # what goes wrong outside it

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.pin}"

    def accepts(self, version: str | None) -> bool:
        """Is `version` in the working range? An absent or unparseable version is not."""
        from packaging.specifiers import SpecifierSet
        from packaging.version import InvalidVersion, Version

        if not version:
            return False
        try:
            return Version(version) in SpecifierSet(self.works)
        except InvalidVersion:
            return False


@cache
def package_rule(name: str) -> PackageRule:
    entry = json.loads(PACKAGES_PATH.read_text(encoding="utf-8"))[name]
    return PackageRule(name=name, works=entry["works"], pin=entry["pin"], measured=entry["measured"],
                       breaks=entry["breaks"])

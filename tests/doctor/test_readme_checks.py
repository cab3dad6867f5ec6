"""The README's table of check ids is the registry's list, in the same order."""

from __future__ import annotations

import re
from pathlib import Path

from doctor.checks import CHECKS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_check_id_is_documented_in_order():
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## `drdoctor check`", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z]+\.[a-z_]+)` \|", section, re.M)
    assert documented == list(CHECKS)


def test_the_fix_ids_are_the_agreed_ones():
    agreed = {"torch.reinstall", "transformers.pin", "wsl.memory", "models.paths", "espeak.install",
              "hf.offline", "container.use"}
    source = "\n".join(p.read_text() for p in (Path(__file__).resolve().parents[2] / "doctor" / "checks").glob("*.py"))
    used = set(re.findall(r'fix="([a-z_.]+)"', source))
    assert used and used <= agreed

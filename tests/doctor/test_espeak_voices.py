"""sys.espeak asks each needed voice to phonemize a word: a voice espeak-ng lists but whose data is gone fails.

Real espeak-ng, pointed (ESPEAK_DATA_PATH) at a copy of its data folder that lacks one voice's dictionary, the
way a half-removed or damaged espeak-ng-data package leaves it. `--voices` still lists the voice."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from doctor.checks.tools import espeak
from doctor.facts import Facts
from doctor.fixes import plan_for
from doctor.fixes.gather import FixOptions, context_from_facts, espeak_works
from doctor.probes.tools import probe_espeak

BINARY = shutil.which("espeak-ng")
pytestmark = pytest.mark.skipif(BINARY is None, reason="needs espeak-ng installed (apt-get install espeak-ng)")


def _data_without(tmp_path: Path, *missing: str) -> Path:
    real = Path(subprocess.run([BINARY, "--version"], capture_output=True, text=True, timeout=10)
                .stdout.split("Data at:")[1].strip())
    copy = tmp_path / "espeak-ng-data"
    copy.mkdir()
    for entry in real.iterdir():
        if entry.name not in missing:
            (copy / entry.name).symlink_to(entry)
    return copy


def _env(data: Path | None = None) -> dict[str, str]:
    env = {"PATH": os.path.dirname(BINARY) + ":/usr/bin:/bin", "HOME": "/home/alice"}
    return {**env, "ESPEAK_DATA_PATH": str(data)} if data else env


def test_a_listed_voice_without_its_dictionary_fails_the_check(tmp_path):
    data = _data_without(tmp_path, "ko_dict")
    facts = probe_espeak(Path("/"), _env(data))
    assert "ko" in facts.voices  # listed all the same: the voice list alone cannot tell
    finding = espeak(Facts(espeak=facts))
    assert finding.status.value == "fail" and finding.fix == "espeak.install", finding  # it was "ok"
    assert "ko" in finding.title and "cannot phonemize" in finding.title and f"{data}/ko_dict" in finding.detail
    [(voice, why)] = facts.voices_broken
    assert voice == "ko" and f"{data}/ko_dict" in why
    assert espeak_works(facts) is False  # the fix plans by the same rule
    ctx = context_from_facts(Facts(espeak=facts), FixOptions(env=_env(data), config_path=tmp_path / "none.toml"))
    assert ctx.espeak is False and ctx.espeak_broken_voices == ("ko",)
    assert any("reinstall" in " ".join(step.argv) for step in plan_for("espeak.install", ctx).steps)  # not a no-op


def test_the_installed_voices_pass(tmp_path):
    facts = probe_espeak(Path("/"), _env())
    finding = espeak(Facts(espeak=facts))
    assert finding.status.value == "ok", finding
    assert "each phonemizes a word" in finding.title and facts.voices_broken == ()

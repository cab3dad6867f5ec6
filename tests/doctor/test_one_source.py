"""Rules that live once: the transformers range and pin (runner/data/packages.json) and torch/version.py's parser."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from doctor.checks.packages import transformers as transformers_check
from doctor.facts import Facts
from doctor.fixes import plan_for
from doctor.fixes.context import FixContext
from doctor.probes.python_env import PythonFacts, torch_build
from runner.package_rules import package_rule

REPO = Path(__file__).resolve().parents[2]
VERSIONS = ["4.42.4", "4.43.0", "4.49.0", "4.53.3", "4.54.0", "4.54.0.dev0", "4.57.1", "5.0.0", "not-a-version"]


def _sources(*parts: str) -> list[Path]:
    return [p for part in parts for p in (REPO / part).rglob("*.py")]


def test_no_transformers_version_is_written_in_the_code():
    rule = package_rule("transformers")
    pattern = re.compile(r"4\.5[34]|4\.43|" + re.escape(rule.pin))
    written = [f"{p.relative_to(REPO)}:{n}" for p in _sources("doctor", "runner")
               for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
               if pattern.search(line) and p.name != "package_rules.py"]
    assert written == []


@pytest.mark.parametrize("version", VERSIONS)
def test_check_fix_and_runner_judge_transformers_by_the_same_data(version, monkeypatch):
    rule = package_rule("transformers")
    works = rule.accepts(version)
    facts = Facts(python=PythonFacts(python="/env/bin/python", found=True, error=None, packages={"transformers": version}))
    assert (transformers_check(facts).status.value == "ok") is works
    plan = plan_for("transformers.pin", FixContext(python="/env/bin/python", packages={"transformers": version}))
    assert plan.empty is works
    if not works:
        assert plan.steps[0].argv[-1] == rule.requirement

    checkout = pytest.importorskip("runner.checkout")  # the runner's refusal (it needs torch)
    monkeypatch.setitem(sys.modules, "transformers", types.SimpleNamespace(__version__=version))
    if works:
        checkout._check_transformers()
    else:
        with pytest.raises(checkout.EnvironmentProblem) as refused:
            checkout._check_transformers()
        assert refused.value.remedy == f"pip install {rule.requirement}" and rule.works in refused.value.message


def test_torch_version_py_has_one_parser(tmp_path):
    readers = [f"{p.relative_to(REPO)}" for p in _sources("doctor", "runner")
               if re.search(r"""["']version\.py["']""", p.read_text(encoding="utf-8"))]
    assert readers == ["doctor/probes/python_env.py"]
    # The interpreter's own torch, as `python -m doctor.wheels installed-matches` (install.sh) sees it, is the
    # probe's reading of the same file.
    rocm = tmp_path / "site" / "torch"
    rocm.mkdir(parents=True)
    (rocm / "__init__.py").write_text("")
    (rocm / "version.py").write_text("__version__ = '2.5.1'\ncuda: Optional[str] = None\nhip = '6.2.41133'\n")
    assert torch_build(rocm).variant == "rocm6.2.41133"
    done = subprocess.run([sys.executable, "-c", "import doctor.wheels as w; print(w.installed_torch())"],
                          capture_output=True, text=True, timeout=60, cwd=REPO,
                          env={"PYTHONPATH": f"{REPO}:{tmp_path / 'site'}", "PATH": "/usr/bin:/bin"})
    assert done.stdout.strip() == "('2.5.1', 'rocm6.2.41133')", done.stderr

"""The import rule (DESIGN.md): `drdoctor check --json` loads neither torch nor textual (checked in fresh
interpreters), and the import-linter contracts in pyproject.toml hold (and would break on a forbidden import)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "textual", "tomlkit")  # tomlkit: only a fix that writes the config needs it


def test_check_json_loads_neither_torch_nor_textual_nor_tomlkit():
    code = (
        "import sys, io, contextlib\n"
        "from doctor.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['check', '--json'])\n"
        f"print([m for m in sys.modules if m.split('.')[0] in {HEAVY!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_importtime_of_the_cli_shows_no_heavy_module():
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "doctor", "check", "--json"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    json.loads(done.stdout)
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert not {name for name in imported if name.split(".")[0] in HEAVY}


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    linter = Path(sys.executable).with_name("lint-imports")
    assert linter.exists(), "import-linter is not installed here: `pip install -e .[dev]` (the dev extra has it)"
    return subprocess.run([str(linter), "--no-cache"], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)})


def test_the_import_contracts_hold():
    done = _lint_imports(REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 kept, 0 broken" in done.stdout


def test_each_import_contract_breaks_on_a_forbidden_import(tmp_path):
    """The contracts can fail: a copy of the source with one forbidden import per contract breaks all three."""
    for part in ("doctor", "runner"):
        shutil.copytree(REPO / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    # torch through a runner module that needs it, textual from a check, and the checkup from the report
    (tmp_path / "doctor" / "probes" / "_torch_through_runner.py").write_text("def f():\n    import runner.sampler\n")
    (tmp_path / "doctor" / "checks" / "_textual.py").write_text("from textual.app import App\n")
    with (tmp_path / "doctor" / "report.py").open("a") as report:
        report.write("\nfrom doctor.checkup import run_checkup  # noqa\n")
    done = _lint_imports(tmp_path)
    assert done.returncode == 1, done.stdout
    assert "0 kept, 3 broken" in done.stdout
    assert "doctor.probes._torch_through_runner -> runner.sampler" in done.stdout

"""`drdoctor check --json` must not load torch or textual (DESIGN.md): checked in fresh interpreters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "textual")


def test_check_json_loads_neither_torch_nor_textual():
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

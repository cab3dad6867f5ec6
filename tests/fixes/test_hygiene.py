"""The fix layer stays light: importing it (and planning) loads no torch and no textual."""

from __future__ import annotations

import subprocess
import sys


def test_fix_modules_import_no_torch():
    code = (
        "import sys, doctor.commands.fix, doctor.fixes.apply, doctor.fixes.gather\n"
        "from doctor.fixes import FIXES, plan_for\n"
        "from doctor.fixes.context import FixContext\n"
        "import importlib\n"
        "[importlib.import_module(m) for m, _ in FIXES.values()]\n"
        "[plan_for(i, FixContext()) for i in FIXES]\n"
        "bad = [m for m in ('torch', 'textual') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

"""The real DiffRhythm 1.2 environment, built from the committed lock into a temporary folder, imports the
checkout's model code, muq and phonemizer. Downloads several GB from PyPI (a CUDA build of torch): skipped
unless DRDOCTOR_REAL_ENV_TEST=1 and DRDOCTOR_DIFFRHYTHM_ROOT names an upstream checkout. DRDOCTOR_REAL_ENV_VARIANT
picks the lock (default cu130; cu126 and cu128 are PyPI locks too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.skipif(
    os.environ.get("DRDOCTOR_REAL_ENV_TEST") != "1" or not os.environ.get("DRDOCTOR_DIFFRHYTHM_ROOT"),
    reason="builds the real environment (~5 GB from PyPI): set DRDOCTOR_REAL_ENV_TEST=1 and DRDOCTOR_DIFFRHYTHM_ROOT",
)


@pytest.mark.timeout(3600)
def test_real_environment_from_the_committed_lock(tmp_path):
    from doctor import wheels
    from doctor.install.lock import environment_spec
    from runner.family import family

    checkout = os.environ["DRDOCTOR_DIFFRHYTHM_ROOT"]
    variant = os.environ.get("DRDOCTOR_REAL_ENV_VARIANT", "cu130")
    expected = environment_spec(family("diffrhythm-1.2")).variants[variant]
    done = subprocess.run([sys.executable, "-m", "doctor.install.environment", "diffrhythm-1.2", "--variant", variant,
                           "--root", str(tmp_path), "--checkout", checkout], capture_output=True, text=True,
                          timeout=3600, cwd=REPO)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    marker = json.loads((tmp_path / "env" / "drdoctor-env.json").read_text())
    found = marker["check"]
    cuda = wheels.variant_cuda(variant)
    assert found["torch"]["version"] == f"{expected.torch}+{variant}"  # PyPI's untagged wheel says its build here
    assert found["torch"]["cuda"] == f"{cuda[0]}.{cuda[1]}" and found["torchaudio"].startswith(expected.torchaudio)
    assert found["checkout"] == "model.cfm.CFM, model.dit.DiT"
    assert "muq" in found and "phonemizer" in found and found["transformers"].startswith("4.53")
    size = sum(p.stat().st_size for p in Path(tmp_path).rglob("*") if p.is_file() and not p.is_symlink())
    print(f"built in {marker['seconds']} s, {size / 1e9:.1f} GB")

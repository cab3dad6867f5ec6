"""The real probes on the machine running the tests: the facts must be true of it."""

from __future__ import annotations

import os
import platform as stdlib_platform
import shutil
import sys
from importlib import metadata
from pathlib import Path

import psutil
import pytest

from doctor.checkup import CheckupOptions, run_checkup


@pytest.fixture(scope="module")
def report():
    return run_checkup(CheckupOptions(config={}))


def test_cpu_and_memory_facts_match_the_machine(report):
    assert report.facts.platform.cpu_count == os.cpu_count()
    assert report.facts.platform.kernel == stdlib_platform.release()
    assert abs(report.facts.memory.ram_total - psutil.virtual_memory().total) < 64 << 20


def test_the_torch_build_is_this_venvs(report):
    assert report.facts.python.python == sys.executable
    assert report.facts.python.torch.metadata_version == metadata.version("torch")
    assert report.facts.python.packages.get("numpy") == metadata.version("numpy")


@pytest.mark.skipif(Path("/dev/nvidia0").exists() or Path("/dev/dxg").exists(), reason="this machine has a GPU")
def test_no_gpu_is_seen_where_there_is_none(report):
    assert report.facts.gpu.nvml in ("no_library", "no_driver") and not report.facts.gpu.devices
    assert report.facts.gpu.cuda_driver is None
    assert next(f for f in report.findings if f.id == "gpu.driver").status.value == "info"


def test_espeak_facts_match_path(report):
    which = shutil.which("espeak-ng")
    assert report.facts.espeak.binary == (str(Path(which)) if which else None)


def test_every_check_gave_one_finding_and_it_was_quick(report):
    from doctor.checks import CHECKS

    assert [f.id for f in report.findings] == list(CHECKS)
    assert report.seconds < 2.0

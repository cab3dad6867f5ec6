"""The checkup's public API for the TUI and the fixes: incremental steps, re-running checks, JSON."""

from __future__ import annotations

import json


from doctor.checks import CHECKS
from doctor.checkup import CheckupOptions, checkup_steps, run_checkup
from doctor.probes.nvml import recorded
from doctor_machines import BASE_ENV, ROOTS

ROOT = ROOTS / "native_old_driver"


def options(**extra) -> CheckupOptions:
    return CheckupOptions(root=ROOT, env=BASE_ENV, config={}, nvml=recorded(ROOT / "nvml.json"), **extra)


def test_steps_arrive_per_probe_and_cover_every_check_once():
    steps = list(checkup_steps(options()))
    assert len(steps) == 8  # one per probe job
    ids = [f.id for step in steps for f in step.findings]
    assert sorted(ids) == sorted(CHECKS)
    filled: set[str] = set()
    for step in steps:
        filled |= set(step.areas)
        for found in step.findings:
            assert set(CHECKS[found.id].needs) <= filled, (found.id, filled)


def test_run_checkup_calls_back_per_step_and_orders_findings_like_the_registry():
    seen = []
    report = run_checkup(options(), on_step=seen.append)
    assert len(seen) == 8
    assert [f.id for f in report.findings] == list(CHECKS)


def test_a_probe_that_crashes_skips_only_the_checks_that_need_it():
    def broken_nvml():
        raise RuntimeError("NVML exploded")

    report = run_checkup(CheckupOptions(root=ROOT, env=BASE_ENV, config={}, nvml=broken_nvml))
    by_id = {f.id: f for f in report.findings}
    assert by_id["gpu.driver"].status.value == "skip" and "NVML exploded" in by_id["gpu.driver"].detail
    assert by_id["platform.wsl"].status.value == "ok"
    assert report.facts.errors == {"gpu": "RuntimeError: NVML exploded"}


def test_json_document_shape():
    document = run_checkup(options()).to_json()
    assert set(document) == {"drdoctor", "schema", "seconds", "facts", "findings"}
    assert document["facts"]["platform"]["kind"] == "linux"
    json.dumps(document)  # plain JSON values only

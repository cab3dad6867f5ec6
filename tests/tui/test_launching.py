"""The device the generate form preselects follows the checkup's torch.cuda_match verdict."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from doctor.findings import Finding, Status
from doctor.tui.launching import recommended


def report_with(status: Status) -> SimpleNamespace:
    return SimpleNamespace(findings=[Finding("torch.cuda_match", status, "torch 2.13.0+cu126 on a CUDA 12.4 driver")])


@pytest.mark.parametrize(
    ("status", "device"),
    [
        (Status.OK, "cuda"),
        (Status.WARN, "cuda"),  # minor-version compatibility: the build runs on this driver
        (Status.FAIL, "cpu"),
        (Status.SKIP, "cpu"),  # a CPU build, or no driver
    ],
)
def test_preselected_device_follows_the_cuda_match_verdict(status: Status, device: str) -> None:
    chosen, dtype, why = recommended(report_with(status))
    assert (chosen, dtype) == (device, "auto")
    assert "torch.cuda_match" in why


def test_nothing_is_preselected_before_a_checkup() -> None:
    assert recommended(SimpleNamespace(findings=[])) is None

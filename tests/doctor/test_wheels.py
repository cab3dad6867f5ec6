"""The torch/CUDA/driver table and the wheel choice install.sh and the fixes rely on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from doctor import wheels

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("driver", "capability", "expected"), [
    (None, None, ("2.13.0", "cpu")),
    ((13, 0), (8, 6), ("2.13.0", "cu130")),
    ((13, 2), None, ("2.13.0", "cu130")),  # cu132 is experimental in 2.13: not chosen on its own
    ((12, 7), (8, 6), ("2.13.0", "cu126")),
    ((12, 4), None, ("2.6.0", "cu124")),
    ((12, 9), (12, 0), ("2.8.0", "cu129")),  # Blackwell: cu126 has no sm_120 code
    ((12, 2), None, ("2.5.1", "cu121")),
    ((11, 4), None, ("2.7.1", "cu118")),  # no variant <= 11.4: cu118 through minor-version compatibility
    ((10, 2), None, ("2.13.0", "cpu")),
])
def test_choose_variant(driver, capability, expected):
    choice = wheels.choose_variant(driver, None, capability)
    assert (choice.torch_version, choice.variant) == expected
    assert choice.index_url == f"https://download.pytorch.org/whl/{expected[1]}"


@pytest.mark.parametrize(("driver", "capability", "expected"), [
    (None, None, ("2.11.0", "cpu")),
    ((12, 6), (8, 6), ("2.11.0", "cu126")),
    ((13, 2), (8, 6), ("2.11.0", "cu130")),
    ((12, 8), (12, 0), ("2.11.0", "cu128")),  # cu128's last release is 2.11
    ((12, 4), None, ("2.6.0", "cu124")),  # cu124's last release is 2.6: below the cap already
    ((11, 8), None, ("2.7.1", "cu118")),
])
def test_needing_torchaudio_caps_the_release_at_the_last_one_that_has_it(driver, capability, expected):
    choice = wheels.choose_variant(driver, None, capability, needs_torchaudio=True)
    assert (choice.torch_version, choice.variant) == expected
    assert wheels.expected_torchaudio(choice.torch_version) == expected[0]


def test_a_named_release_wins_over_the_torchaudio_cap():
    assert wheels.choose_variant((13, 0), "2.13.0", (8, 6), needs_torchaudio=True) == wheels.Choice("2.13.0", "cu130")


@pytest.mark.parametrize(("build", "driver", "linux_driver", "expected"), [
    ((12, 4), (12, 4), None, "full"),
    ((11, 8), (12, 4), "550.54.14", "full"),  # an older major: drivers run older CUDA
    ((12, 6), (12, 4), "550.54.14", "mvc"),
    ((12, 8), (12, 2), None, "mvc"),  # WSL2: no Linux number to hold against the floor
    ((12, 8), (12, 2), "520.61.05", "no"),  # below the 12.x floor 525.60.13
    ((13, 0), (12, 9), "575.57.08", "no"),  # a newer major
])
def test_driver_runs(build, driver, linux_driver, expected):
    assert wheels.driver_runs(build, driver, linux_driver) == expected


def test_driver_numbers_are_written_as_nvidia_does():
    assert wheels.driver_text((560, 28, 3)) == "560.28.03"
    assert wheels.driver_text((570, 26)) == "570.26" and wheels.driver_text((580,)) == "580"


def test_a_forced_variant_and_release():
    assert wheels.choose_variant(None, variant="cu121").torch_version == "2.5.1"
    assert wheels.choose_variant(None, "2.4.1", variant="cu124") == wheels.Choice("2.4.1", "cu124")
    with pytest.raises(ValueError, match="cu124.*2.13"):
        wheels.choose_variant(None, "2.13.0", variant="cu124")


def test_table_facts():
    assert wheels.cuda_for_driver("550.54.14") == (12, 4)
    assert wheels.cuda_for_driver("470.223.02") is None
    assert wheels.driver_requirement((12, 8)) == ((570, 26), (525, 60, 13))
    assert wheels.expected_torchaudio("2.0.1") == "2.0.2"
    assert wheels.expected_torchaudio("2.5.1+cu124") == "2.5.1"
    assert wheels.expected_torchaudio("2.13.0+cpu") is None
    sm = wheels.arch_set("2.6.0+cu124", "cu124")
    assert sm.runs_on((8, 9)) and not sm.runs_on((12, 0)) and not sm.runs_on((3, 5))
    assert wheels.arch_set("2.13.0", "cu130").runs_on((12, 1))  # sm_120 covers 12.1
    assert wheels.arch_set("2.13.0", "cu124") is None


def test_every_release_variant_has_driver_data_and_an_arch_set():
    table = wheels.table()
    for row in table["releases"]:
        for variant, arch in row["variants"].items():
            cuda = wheels.variant_cuda(variant)
            assert f"{cuda[0]}.{cuda[1]}" in table["cuda"], (row["torch"], variant)
            assert arch in table["arch_sets"]


def test_the_cli_runs_on_the_standard_library_alone():
    # -S: no site-packages, so any non-stdlib import would fail; -E keeps PYTHON* variables out.
    done = subprocess.run([sys.executable, "-E", "-S", "-m", "doctor.wheels", "choose", "--driver-cuda", "12.4"],
                          capture_output=True, text=True, timeout=30, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2.6.0 cu124 https://download.pytorch.org/whl/cu124"
    audio = subprocess.run([sys.executable, "-E", "-S", "-m", "doctor.wheels", "choose", "--driver-cuda", "12.6", "--with-torchaudio"],
                           capture_output=True, text=True, timeout=30, cwd=REPO)
    assert audio.stdout.strip() == "2.11.0 cu126 https://download.pytorch.org/whl/cu126", audio.stderr
    bad = subprocess.run([sys.executable, "-E", "-S", "-m", "doctor.wheels", "choose", "--driver-cuda", "twelve"],
                         capture_output=True, text=True, timeout=30, cwd=REPO)
    assert bad.returncode == 2 and "'twelve' is not a CUDA version" in bad.stderr


def test_installed_matches_reads_this_interpreters_torch():
    from importlib import metadata

    version, _, variant = metadata.version("torch").partition("+")
    ok = subprocess.run([sys.executable, "-m", "doctor.wheels", "installed-matches", version, variant or "cpu"],
                        timeout=30, cwd=REPO)
    other = subprocess.run([sys.executable, "-m", "doctor.wheels", "installed-matches", version, "cu999"],
                           timeout=30, cwd=REPO)
    assert ok.returncode == 0 and other.returncode == 1


def test_best_gpu_fit_prefers_full_support_then_the_newest_cuda_and_needs_code_for_the_gpu():
    builds = [("cu126", "2.7.1"), ("cu128", "2.10.0"), ("cu130", "2.11.0")]
    assert wheels.best_gpu_fit(builds, (13, 0), "580.65.06", (8, 6)).variant == "cu130"
    assert wheels.best_gpu_fit(builds, (12, 8), "570.124.04", (12, 0)).variant == "cu128"  # cu126 lacks sm_120
    mvc = wheels.best_gpu_fit(builds, (12, 4), "550.54.14", (8, 6))
    assert (mvc.variant, mvc.driver) == ("cu128", "mvc")
    assert wheels.best_gpu_fit(builds, (12, 4), "550.54.14", (6, 1)).variant == "cu126"  # 2.10 cu128 starts at sm_70
    # a full-support build wins over a newer one through minor-version compatibility
    assert wheels.best_gpu_fit([("cu126", "2.7.1"), ("cu128", "2.10.0")], (12, 6), "560.28.03", (8, 6)).variant == "cu126"
    assert wheels.best_gpu_fit(builds, (11, 4), "470.82.01", (7, 5)) is None
    assert wheels.best_gpu_fit(builds, None) is None
    assert "needs a newer driver (driver 525.60.13 or newer)" in wheels.fit("cu126", "2.7.1", (11, 4), "470.82.01").describe()


def test_pypi_variant_is_known_for_the_releases_measured():
    assert [wheels.pypi_variant(v) for v in ("2.7.1", "2.8.0", "2.9.1", "2.10.0", "2.11.0")] == \
        ["cu126", "cu128", "cu128", "cu128", "cu130"]
    assert wheels.pypi_variant("2.0.1") is None

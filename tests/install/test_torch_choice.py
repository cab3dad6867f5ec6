"""Which environment variant `drdoctor install` takes for a driver and GPU: the best one that has a lock, and why.

The machines are recorded NVML snapshots (tests/roots/*/nvml.json, tests/install/machines/*.json) read by the
command's own GPU probe; the family is the real one with its committed locks.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REAL_FAMILY, REPO, clean_env

from doctor.commands.install import _gpu
from doctor.install.lock import environment_spec, read_header
from doctor.install.planner import InstallOptions, choose_variant
from runner.family import family, load

MACHINES = Path(__file__).parent / "machines"
ROOTS = REPO / "tests" / "roots"


def choice(snapshot: Path, fam=None, variant: str | None = None):
    fam = fam or family("diffrhythm-1.2")
    cuda, version, capability = _gpu(argparse.Namespace(driver_cuda=None, compute_capability=None,
                                                        nvml_snapshot=str(snapshot)))
    opts = InstallOptions(family_arg=fam.id, family=fam, variant=variant, driver_cuda=cuda, driver_version=version,
                          compute_capability=capability)
    return choose_variant(opts, environment_spec(fam))


def test_blackwell_on_r570_takes_cu128_the_only_locked_build_with_sm120_code_this_driver_runs():
    got = choice(MACHINES / "blackwell_r570.json")
    assert (got.variant, got.torch, got.on_cpu) == ("cu128", "2.10.0", False)
    assert "driver 570.124.04 (CUDA 12.8), GPU sm_120" in got.why
    assert "cu126 (torch 2.7.1): the driver runs CUDA 12.6; it has no code for sm_120" in got.why
    assert "cu130 (torch 2.11.0): CUDA 13.0 needs a newer driver (driver 580 or newer)" in got.why


def test_blackwell_on_r580_takes_cu130():
    got = choice(MACHINES / "blackwell_r580.json")
    assert (got.variant, got.torch, got.on_cpu) == ("cu130", "2.11.0", False)
    assert "the driver runs CUDA 13.0" in got.why


def test_r550_runs_the_cuda_12_builds_through_minor_version_compatibility_but_not_cu130():
    got = choice(MACHINES / "ampere_r550.json")
    assert (got.variant, got.on_cpu) == ("cu128", False)
    assert "through minor-version compatibility" in got.why and "cu130 (torch 2.11.0): CUDA 13.0 needs a newer" in got.why
    # a Pascal card on the same driver: torch 2.10's cu128 build starts at sm_70, so cu126 (2.7.1, sm_50-sm_90)
    pascal = choice(MACHINES / "pascal_r550.json")
    assert (pascal.variant, pascal.torch) == ("cu126", "2.7.1")
    assert "cu128 (torch 2.10.0): the driver runs CUDA 12.8 through minor-version compatibility" in pascal.why
    assert "no code for sm_61" in pascal.why


def _cost_checks(got):
    lock = environment_spec(family("diffrhythm-1.2")).variants[got.variant].lock
    weighed = read_header(lock)["wheel_bytes"]
    sizes = {name: sum(read_header(v.lock)["wheel_bytes"][k] for k in ("torch", "cuda_libraries"))
             for name, v in environment_spec(family("diffrhythm-1.2")).variants.items() if v.lock.is_file()}
    assert sizes[got.variant] == min(sizes.values())  # the lightest PyPI lock, by its measured wheels
    gib = weighed["cuda_libraries"] / 2**30
    assert any(f"what that costs: {gib:.1f} GiB of CUDA libraries" in n for n in got.notes), got.notes
    assert any("`python -m doctor.install.lock diffrhythm-1.2 --variant cpu`" in n and
               "https://download.pytorch.org/whl/cpu" in n for n in got.notes), got.notes


def test_no_gpu_is_not_blocked_it_runs_a_pypi_cuda_lock_on_the_cpu_and_says_what_that_costs():
    got = choice(ROOTS / "no_gpu" / "nvml.json")
    assert got.on_cpu and got.variant != "cpu" and got.variant.startswith("cu")
    assert "no working NVIDIA driver found: torch will compute on the CPU" in got.why
    assert "there is no cpu lock, and a CUDA build of torch runs on the CPU" in got.why
    _cost_checks(got)


def test_a_pre_r525_driver_uses_no_gpu_build_and_says_which_driver_each_needs():
    got = choice(ROOTS / "native_old_driver" / "nvml.json")  # R470, CUDA 11.4, a T4
    assert got.on_cpu and got.variant.startswith("cu")
    assert "driver 470.223.02 (CUDA 11.4), GPU sm_75: no locked CUDA build uses the GPU" in got.why
    assert "cu126 (torch 2.7.1): CUDA 12.6 needs a newer driver (driver 525.60.13 or newer)" in got.why
    _cost_checks(got)


def test_torch_variant_overrides_the_choice():
    got = choice(MACHINES / "blackwell_r580.json", variant="cu126")
    assert (got.variant, got.torch, got.why) == ("cu126", "2.7.1", "--torch-variant cu126")


def test_a_cpu_lock_when_present_is_taken_on_a_machine_without_gpu(tmp_path):
    folder = tmp_path / "families"
    shutil.copytree(REAL_FAMILY.parent, folder)
    # stands for a cpu lock generated where download.pytorch.org answers: the planner reads its presence
    shutil.copy(folder / "diffrhythm-1.2" / "cu130.txt", folder / "diffrhythm-1.2" / "cpu.txt")
    fam = load(folder / "diffrhythm-1.2.json")
    got = choice(ROOTS / "no_gpu" / "nvml.json", fam)
    assert (got.variant, got.on_cpu, got.notes) == ("cpu", True, ())
    assert got.why.endswith("-> the lean cpu build")
    gpu = choice(MACHINES / "blackwell_r580.json", fam)
    assert gpu.variant == "cu130"  # a GPU still gets its CUDA build


def test_dry_run_json_and_text_carry_the_choice_and_the_environment_is_not_blocked_for_want_of_a_cpu_lock(tmp_path):
    env = clean_env(tmp_path, "http://127.0.0.1:9")
    env["DRDOCTOR_FAMILIES_DIR"] = str(REAL_FAMILY.parent)
    snapshot = str(ROOTS / "no_gpu" / "nvml.json")
    argv = [sys.executable, "-m", "doctor", "install", "--dry-run", "--nvml-snapshot", snapshot]
    done = subprocess.run([*argv, "--json"], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["torch"]["on_cpu"] and plan["torch"]["variant"].startswith("cu") and len(plan["torch"]["notes"]) == 2
    part = next(p for p in plan["parts"] if p["fix"] == "install.environment")
    assert "no cpu lock" not in json.dumps(part) and f"({plan['torch']['variant']})" in part["title"]
    text = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, timeout=120).stdout
    assert "torch build: no working NVIDIA driver found: torch will compute on the CPU" in text
    assert "what that costs:" in text and "--variant cpu" in text
    assert not (tmp_path / "data").exists()  # a dry run writes nothing
    # cu128 has no measured environment size: its lock's measured wheels are the floor of the space check
    blackwell = subprocess.run([*argv[:-1], str(MACHINES / "blackwell_r570.json"), "--json"], capture_output=True,
                               text=True, env=env, cwd=REPO, timeout=120)
    part = next(p for p in json.loads(blackwell.stdout)["parts"] if p["fix"] == "install.environment")
    weighed = read_header(environment_spec(family("diffrhythm-1.2")).variants["cu128"].lock)["wheel_bytes"]
    floor = (weighed["torch"] + weighed["cuda_libraries"]) / 2**30
    assert any(n.startswith(f"space: at least {floor:.1f} GiB for the environment") for n in part["notes"]), part


@pytest.mark.parametrize("bad", ["--compute-capability 8.6", "--driver-cuda twelve"])
def test_bad_gpu_arguments_are_refused_with_exit_2(tmp_path, bad):
    env = clean_env(tmp_path, None)
    env["DRDOCTOR_FAMILIES_DIR"] = str(REAL_FAMILY.parent)
    done = subprocess.run([sys.executable, "-m", "doctor", "install", "--dry-run", *bad.split()], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=60)
    assert done.returncode == 2 and "drdoctor install:" in done.stderr, done.stderr

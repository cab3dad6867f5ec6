"""torch.reinstall and transformers.pin applied for real: a venv, wheels from a local --find-links folder."""

from __future__ import annotations

import io

import pytest

from doctor.fixes import plan_for
from doctor.fixes.apply import apply_plan
from doctor.fixes.context import FixContext, PipSource
from doctor.probes import python_env

from fixtools import yes


def _ctx(venv, **kw) -> FixContext:
    facts = python_env.probe(str(venv.python))
    torch = facts.torch
    return FixContext(
        python=str(venv.python),
        packages=dict(facts.packages),
        torch_build=(torch.version, torch.variant) if torch else None,
        pip=PipSource(find_links=(str(venv.wheelhouse),)),
        **kw,
    )


def test_transformers_too_new_is_replaced_by_4_53_3(venv):
    venv.install("transformers==4.57.0")
    plan = plan_for("transformers.pin", _ctx(venv))
    [step] = plan.steps
    assert step.argv == (str(venv.python), "-m", "pip", "install", "transformers==4.53.3",
                         "--no-index", "--find-links", str(venv.wheelhouse))
    out = io.StringIO()
    assert apply_plan(plan, yes, out).state == "applied"
    assert "Successfully installed transformers-4.53.3" in out.getvalue()  # pip's output streamed
    assert venv.packages()["transformers"] == "4.53.3"
    again = plan_for("transformers.pin", _ctx(venv))
    assert again.empty and "4.53.3" in again.done_reason


def test_transformers_plan_uses_pypi_by_default():
    plan = plan_for("transformers.pin", FixContext(python="/env/bin/python", packages={"transformers": "5.0.0"}))
    assert plan.steps[0].argv == ("/env/bin/python", "-m", "pip", "install", "transformers==4.53.3")


def test_cpu_torch_on_a_cuda_12_6_driver_becomes_cu126_and_the_pins_follow(venv, tmp_path):
    venv.install("torch==2.13.0+cpu", "torchaudio==2.6.0")
    checkout = tmp_path / "DiffRhythm"
    checkout.mkdir()
    requirements = checkout / "requirements.txt"
    requirements.write_text("numpy>=1.24\ntorch==2.6.0\ntorchaudio==2.6.0  # upstream pin\ntransformers==4.49.0\n")
    ctx = _ctx(venv, driver_cuda=(12, 6), compute_capability=(8, 6), diffrhythm=checkout)
    plan = plan_for("torch.reinstall", ctx)
    kinds = [step.kind for step in plan.steps]
    assert kinds == ["edit", "command", "command"]
    install, uninstall = plan.steps[1], plan.steps[2]
    assert install.argv == (str(venv.python), "-m", "pip", "install", "torch==2.13.0+cu126",
                            "--no-index", "--find-links", str(venv.wheelhouse))
    assert uninstall.argv == (str(venv.python), "-m", "pip", "uninstall", "-y", "torchaudio")
    assert any("torchaudio==2.6.0" in note and "rewritten" in note for note in plan.notes)

    result = apply_plan(plan, yes, io.StringIO())
    assert result.state == "applied", result.message
    facts = python_env.probe(str(venv.python))
    assert facts.torch.version == "2.13.0+cu126" and facts.torch.cuda == "12.6"
    assert "torchaudio" not in facts.packages
    assert requirements.read_text() == (
        "numpy>=1.24\ntorch==2.13.0\n"
        "# torchaudio==2.6.0  # upstream pin  # drdoctor: no torchaudio release exists for torch 2.13.0\n"
        "transformers==4.49.0\n"
    )
    assert result.backups and result.backups[0].read_text().startswith("numpy>=1.24\ntorch==2.6.0\n")

    again = plan_for("torch.reinstall", _ctx(venv, driver_cuda=(12, 6), compute_capability=(8, 6), diffrhythm=checkout))
    assert again.empty and "runs on this driver" in again.done_reason


def test_a_driver_that_stops_at_cuda_11_8_gets_cu118_with_its_torchaudio(venv):
    venv.install("torch==2.13.0+cpu", "torchaudio==2.6.0")
    plan = plan_for("torch.reinstall", _ctx(venv, driver_cuda=(11, 8), compute_capability=(7, 5)))
    [install] = plan.steps
    assert install.argv[3:6] == ("install", "torch==2.7.1+cu118", "torchaudio==2.7.1+cu118")
    assert apply_plan(plan, yes, io.StringIO()).state == "applied"
    packages = venv.packages()
    assert packages["torch"] == "2.7.1+cu118" and packages["torchaudio"] == "2.7.1+cu118"
    assert plan_for("torch.reinstall", _ctx(venv, driver_cuda=(11, 8), compute_capability=(7, 5))).empty


def test_the_real_index_is_the_pytorch_one_for_the_variant():
    ctx = FixContext(python="/env/bin/python", torch_build=("2.13.0+cpu", "cpu"), driver_cuda=(12, 4))
    [install] = plan_for("torch.reinstall", ctx).steps
    assert install.argv == ("/env/bin/python", "-m", "pip", "install", "torch==2.6.0+cu124",
                            "--index-url", "https://download.pytorch.org/whl/cu124")


def test_a_cuda_build_newer_than_the_driver_is_replaced():
    ctx = FixContext(python="/p", torch_build=("2.13.0+cu130", "cu130"), driver_cuda=(12, 8), compute_capability=(12, 0))
    [install] = plan_for("torch.reinstall", ctx).steps
    assert "torch==2.11.0+cu128" in install.argv  # the newest release with a variant this driver runs on Blackwell


def test_a_build_without_kernels_for_the_gpu_is_replaced():
    # cu130 has no sm_61 code (Pascal): cu126 has
    ctx = FixContext(python="/p", torch_build=("2.13.0+cu130", "cu130"), driver_cuda=(13, 0), compute_capability=(6, 1))
    [install] = plan_for("torch.reinstall", ctx).steps
    assert "torch==2.13.0+cu126" in install.argv


def test_no_fitting_build_is_blocked():
    plan = plan_for("torch.reinstall", FixContext(python="/p", torch_build=("2.13.0+cpu", "cpu"), driver_cuda=(10, 2)))
    assert plan.blocked and "no CUDA build" in plan.blocked


def test_without_a_driver_any_build_fits_and_a_missing_torch_is_the_cpu_build():
    done = plan_for("torch.reinstall", FixContext(python="/p", torch_build=("2.13.0+cpu", "cpu")))
    assert done.empty and not done.blocked and "runs on the CPU" in done.done_reason
    [install] = plan_for("torch.reinstall", FixContext(python="/p")).steps
    assert install.argv == ("/p", "-m", "pip", "install", "torch==2.13.0+cpu", "--index-url", "https://download.pytorch.org/whl/cpu")


def test_a_build_the_driver_runs_through_minor_version_compatibility_is_kept():
    # cu126 on a CUDA 12.4 driver works (eager code); the table's pick for the driver would be torch 2.6.0+cu124.
    ctx = FixContext(python="/p", torch_build=("2.13.0+cu126", "cu126"), driver_cuda=(12, 4), compute_capability=(7, 5),
                     driver_version="550.54.14")
    plan = plan_for("torch.reinstall", ctx)
    assert plan.empty and "through minor-version compatibility" in plan.done_reason
    # Below the CUDA 12.x floor (an impossible pair here, but the rule is the check's): it does not start.
    below = FixContext(python="/p", torch_build=("2.13.0+cu126", "cu126"), driver_cuda=(12, 4), driver_version="520.61.05")
    assert "torch==2.6.0+cu124" in plan_for("torch.reinstall", below).steps[0].argv


@pytest.mark.parametrize(("driver", "capability", "pins", "index"), [
    ((12, 6), (8, 6), ("torch==2.11.0+cu126", "torchaudio==2.11.0+cu126"), "cu126"),
    ((12, 4), (7, 5), ("torch==2.6.0+cu124", "torchaudio==2.6.0+cu124"), "cu124"),
    (None, None, ("torch==2.11.0+cpu", "torchaudio==2.11.0+cpu"), "cpu"),
])
def test_muq_needs_a_torch_that_has_a_torchaudio(driver, capability, pins, index):
    ctx = FixContext(python="/p", packages={"torch": "2.13.0+cu126", "muq": "0.1.0"},
                     torch_build=("2.13.0+cu126", "cu126"), driver_cuda=driver, compute_capability=capability)
    plan = plan_for("torch.reinstall", ctx)
    [install] = plan.steps
    assert install.argv == ("/p", "-m", "pip", "install", *pins, "--index-url", f"https://download.pytorch.org/whl/{index}")
    assert any("muq" in note and "imports torchaudio" in note for note in plan.notes)


def test_an_explicit_torch_version_wins_over_muq_and_says_what_it_costs():
    ctx = FixContext(python="/p", packages={"torch": "2.13.0+cu126", "muq": "0.1.0", "torchaudio": "2.11.0"},
                     torch_build=("2.13.0+cu126", "cu126"), driver_cuda=(12, 6), torch_version="2.13")
    plan = plan_for("torch.reinstall", ctx)
    [uninstall] = plan.steps
    assert uninstall.argv == ("/p", "-m", "pip", "uninstall", "-y", "torchaudio")
    assert any("computing a style needs it" in note and "leave out --torch-version" in note for note in plan.notes)


def test_muq_beside_torch_2_13_gets_torch_2_11_with_its_torchaudio_and_then_nothing_to_do(venv):
    venv.uninstall("torch", "torchaudio", "muq")
    venv.install("torch==2.13.0+cu126", "muq==0.1.0")
    ctx = lambda: _ctx(venv, driver_cuda=(12, 6), compute_capability=(8, 6))  # noqa: E731
    plan = plan_for("torch.reinstall", ctx())
    [install] = plan.steps
    assert install.argv[3:6] == ("install", "torch==2.11.0+cu126", "torchaudio==2.11.0+cu126")
    assert apply_plan(plan, yes, io.StringIO()).state == "applied"
    packages = venv.packages()
    assert packages["torch"] == "2.11.0+cu126" and packages["torchaudio"] == "2.11.0+cu126"
    again = plan_for("torch.reinstall", ctx())
    assert again.empty and "torchaudio 2.11.0+cu126 matches it" in again.done_reason


def test_online_models_paths_downloads_the_interrupted_file_again(venv, tmp_path):
    # The target env holds huggingface_hub (a stand-in with the real function's signature and cache
    # layout); with --online the plan runs the download there, and the weight is whole afterwards.
    from broken_machine import CHECKOUT, HF_CACHE, MODELS, build_root
    from doctor.probes import models as models_probe

    venv.install("transformers==4.53.3", "huggingface_hub==0.34.4")
    root = build_root(tmp_path / "root")
    env = {"HOME": "/home/alice", "HF_HUB_CACHE": HF_CACHE}

    def ctx():
        facts = models_probe.probe(root, CHECKOUT, [MODELS], {}, env)
        return _ctx(venv, root=root, models=facts, models_dirs=(MODELS,), online=True, config_path=tmp_path / "c.toml")

    assert not ctx().models.weight("cfm_full").ok
    plan = plan_for("models.paths", ctx())
    [download] = [s for s in plan.steps if s.kind == "command"]
    assert download.argv[0] == str(venv.python) and download.argv[5] == str(root) + HF_CACHE  # inside --root
    out = io.StringIO()
    assert apply_plan(plan, yes, out).state == "applied", out.getvalue()
    assert "downloaded ASLP-lab/DiffRhythm-1_2-full cfm_model.pt" in out.getvalue()
    after = ctx().models.weight("cfm_full")
    assert after.ok and not after.incomplete

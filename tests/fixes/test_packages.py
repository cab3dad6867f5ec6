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


@pytest.mark.parametrize("driver,why", [(None, "no working NVIDIA driver"), ((10, 2), "no CUDA build")])
def test_no_fitting_build_is_blocked(driver, why):
    plan = plan_for("torch.reinstall", FixContext(python="/p", torch_build=("2.13.0+cpu", "cpu"), driver_cuda=driver))
    assert plan.blocked and why in plan.blocked


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
    assert download.argv[0] == str(venv.python) and download.argv[6] == str(root) + HF_CACHE  # inside --root
    out = io.StringIO()
    assert apply_plan(plan, yes, out).state == "applied", out.getvalue()
    assert "downloaded ASLP-lab/DiffRhythm-1_2-full cfm_model.pt" in out.getvalue()
    after = ctx().models.weight("cfm_full")
    assert after.ok and not after.incomplete

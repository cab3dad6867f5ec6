"""models.paths and hf.offline against a fake Hugging Face cache tree (real files, links, sparse weights)."""

from __future__ import annotations

import io
import tomllib

from broken_machine import CHECKOUT, HF_CACHE, MODELS, REV, build_root
from doctor.fixes import plan_for
from doctor.fixes.apply import apply_plan
from doctor.fixes.context import FixContext
from doctor.probes import models as models_probe
from fixtools import yes

ENV = {"HOME": "/home/alice", "HF_HUB_CACHE": HF_CACHE}


def _ctx(root, config_path, models_dirs=(MODELS,), **kw) -> FixContext:
    config = tomllib.loads(config_path.read_text()) if config_path.exists() else {}
    facts = models_probe.probe(root, CHECKOUT, list(models_dirs), config.get("models", {}), ENV)
    return FixContext(root=root, config_path=config_path, models=facts, models_dirs=tuple(models_dirs), **kw)


def test_weights_found_elsewhere_are_recorded_and_broken_ones_listed(tmp_path):
    root = build_root(tmp_path / "root")
    config_path = tmp_path / "config.toml"
    config_path.write_text('# my settings\n[diffrhythm]\nroot = "/home/alice/DiffRhythm"\n')
    plan = plan_for("models.paths", _ctx(root, config_path))
    step, move = plan.steps
    assert step.kind == "edit" and step.path == config_path
    # the git-lfs pointer in the checkout's ./pretrained, which upstream's scripts would load: moved aside
    pointer = root / CHECKOUT.lstrip("/") / f"pretrained/models--ASLP-lab--DiffRhythm-vae/snapshots/{REV}/vae_model.pt"
    assert move.kind == "move" and move.path == pointer and "git-lfs pointer" in move.description
    notes = "\n".join(plan.notes)
    # the interrupted full-model download, with the exact command that fetches it again
    assert f"hf download ASLP-lab/DiffRhythm-1_2-full cfm_model.pt --cache-dir {HF_CACHE}" in notes
    assert ".incomplete is an interrupted download" in notes
    assert "pass --online" in notes  # offline: listed, not run

    result = apply_plan(plan, yes, io.StringIO())
    assert result.state == "applied"
    written = tomllib.loads(config_path.read_text())
    snapshot = f"{HF_CACHE}/models--ASLP-lab--DiffRhythm-1_2/snapshots/{REV}"
    assert written["models"] == {
        "cfm": f"{snapshot}/cfm_model.pt",
        "vae": f"{MODELS}/DiffRhythm-vae/vae_model.pt",
        "muq": f"{HF_CACHE}/models--OpenMuQ--MuQ-MuLan-large/snapshots/{REV}",
        "muq_audio": f"{HF_CACHE}/models--OpenMuQ--MuQ-large-msd-iter/snapshots/{REV}",
        "xlmr": f"{HF_CACHE}/models--xlm-roberta-base/snapshots/{REV}",
        "dir": MODELS,
    }
    assert written["diffrhythm"] == {"root": "/home/alice/DiffRhythm"}  # other tables kept
    backup, aside = result.backups
    assert backup.read_text().startswith("# my settings")
    assert not pointer.is_symlink() and aside.is_symlink() and aside.name.startswith("vae_model.pt.drdoctor-")

    # The checkup reads the config: the recorded copies come first, and planning again finds nothing to do.
    again = plan_for("models.paths", _ctx(root, config_path))
    assert again.empty and not again.blocked and again.notes  # the interrupted download is still listed
    vae = _ctx(root, config_path, models_dirs=()).models.weight("vae")  # found through the config alone
    assert vae.best.path == f"{MODELS}/DiffRhythm-vae/vae_model.pt"


def test_config_is_created_atomically_when_absent(tmp_path):
    root = build_root(tmp_path / "root")
    config_path = tmp_path / "cfg" / "drdoctor" / "config.toml"
    plan = plan_for("models.paths", _ctx(root, config_path))
    assert plan.steps[0].creates
    result = apply_plan(plan, yes, io.StringIO())
    assert result.state == "applied" and config_path not in [b.with_suffix("") for b in result.backups]
    assert not list(config_path.parent.glob("*.bak"))  # nothing to back up: the file is new
    assert tomllib.loads(config_path.read_text())["models"]["dir"] == MODELS
    assert [p.name for p in config_path.parent.iterdir()] == ["config.toml"]  # no temporary file left


def test_online_plan_runs_the_download_in_the_target_env(tmp_path):
    root = build_root(tmp_path / "root")
    ctx = _ctx(root, tmp_path / "c.toml", online=True, python="/env/bin/python", packages={"transformers": "4.53.3"})
    downloads = [s for s in plan_for("models.paths", ctx).steps if s.kind == "command"]
    assert [s.argv[3:] for s in downloads] == [
        ("ASLP-lab/DiffRhythm-1_2-full", "cache", str(root) + HF_CACHE, "0", "cfm_model.pt"),
    ]
    assert downloads[0].argv[:2] == ("/env/bin/python", "-c")  # the code is a constant; the names come as argv


def test_hf_offline_is_set_once_the_weights_are_complete(tmp_path):
    root = build_root(tmp_path / "root")
    config_path = tmp_path / "config.toml"
    assert "not complete" in plan_for("hf.offline", _ctx(root, config_path, models_dirs=())).blocked  # VAE only a pointer
    plan = plan_for("hf.offline", _ctx(root, config_path))
    result = apply_plan(plan, yes, io.StringIO())
    assert result.state == "applied"
    assert tomllib.loads(config_path.read_text()) == {"run": {"hf_hub_offline": True}}
    again = plan_for("hf.offline", _ctx(root, config_path))
    assert again.empty and "already" in again.done_reason


def test_missing_weights_block_with_the_download_commands(tmp_path):
    root = tmp_path / "root"
    (root / CHECKOUT.lstrip("/") / "model").mkdir(parents=True)
    ctx = _ctx(root, tmp_path / "c.toml", models_dirs=())
    ctx = FixContext(root=root, config_path=ctx.config_path, models=ctx.models, diffrhythm=root / CHECKOUT.lstrip("/"))
    plan = plan_for("models.paths", ctx)
    assert plan.blocked and "cfm, vae, muq, muq_audio, xlmr" in plan.blocked  # the full DiT is optional
    notes = "\n".join(plan.notes)
    assert f"hf download ASLP-lab/DiffRhythm-vae vae_model.pt --cache-dir {CHECKOUT}/pretrained" in notes
    # whole repositories: every file the role needs, in one command (before: one weight file of each)
    assert ("hf download xlm-roberta-base config.json tokenizer_config.json sentencepiece.bpe.model tokenizer.json "
            f"model.safetensors --cache-dir {CHECKOUT}/pretrained") in notes
    assert f"hf download OpenMuQ/MuQ-MuLan-large config.json pytorch_model.bin --cache-dir {CHECKOUT}/pretrained" in notes
    assert f"hf download OpenMuQ/MuQ-large-msd-iter config.json model.safetensors --cache-dir {CHECKOUT}/pretrained" in notes
    assert "DiffRhythm-1_2-full" not in notes and "huggingface-cli" not in notes



def test_a_failure_after_moving_aside_moves_it_back(tmp_path):
    import sys

    from doctor.fixes.plan import CommandStep, Plan

    root = build_root(tmp_path / "root")
    plan = plan_for("models.paths", _ctx(root, tmp_path / "c.toml"))
    move = next(s for s in plan.steps if s.kind == "move")
    failing = Plan("models.paths", "t", steps=(*plan.steps, CommandStep((sys.executable, "-c", "raise SystemExit(1)"), "fails")))
    result = apply_plan(failing, yes, io.StringIO())
    assert result.state == "failed"
    assert move.path.is_symlink() and not (tmp_path / "c.toml").exists()
    assert move.path in result.restored

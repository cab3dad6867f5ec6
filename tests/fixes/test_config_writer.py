"""The one config writer (`doctor.config.updated_text`): every fix's edit keeps the user's comments and layout."""

from __future__ import annotations

import io

import pytest
import tomllib
from broken_machine import CHECKOUT, HF_CACHE, MODELS, build_root
from fixtools import yes

from doctor import config
from doctor.fixes import plan_for
from doctor.fixes.apply import apply_plan
from doctor.fixes.context import FixContext
from doctor.probes import models as models_probe

MINE = '''# drdoctor settings, kept by hand
[diffrhythm]
root = "/home/alice/DiffRhythm"   # the checkout I use

# where the weights live
[models]
dir = "/old/place"  # was on the USB disk
'''


def _ctx(root, config_path) -> FixContext:
    current = tomllib.loads(config_path.read_text()) if config_path.exists() else {}
    facts = models_probe.probe(root, CHECKOUT, [MODELS], current.get("models", {}),
                               {"HOME": "/home/alice", "HF_HUB_CACHE": HF_CACHE})
    return FixContext(root=root, config_path=config_path, models=facts, models_dirs=(MODELS,))


@pytest.mark.parametrize("fix_id", ["models.paths", "hf.offline"])
def test_a_fix_edits_the_config_keeping_every_comment(tmp_path, fix_id):
    root = build_root(tmp_path / "root")
    path = tmp_path / "config.toml"
    path.write_text(MINE)
    plan = plan_for(fix_id, _ctx(root, path))
    assert apply_plan(plan, yes, io.StringIO()).state == "applied", plan.render()
    text = path.read_text()
    for line in ("# drdoctor settings, kept by hand", 'root = "/home/alice/DiffRhythm"   # the checkout I use',
                 "# where the weights live"):
        assert line in text.splitlines()
    written = tomllib.loads(text)
    assert written["diffrhythm"] == {"root": "/home/alice/DiffRhythm"}
    if fix_id == "models.paths":
        assert written["models"]["dir"] == MODELS and "vae" in written["models"]
    else:
        assert written["run"] == {"hf_hub_offline": True}
        assert 'dir = "/old/place"  # was on the USB disk' in text.splitlines()


def test_updated_text_sets_keys_adds_tables_and_keeps_a_bom(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(("\ufeff" + MINE).encode("utf-8"))
    text = config.updated_text(path, {"models": {"dir": "/new"}, "run": {"hf_hub_offline": True}})
    assert text.startswith("\ufeff# drdoctor settings, kept by hand\n")
    assert 'dir = "/new"  # was on the USB disk' in text  # the value changes, its comment stays
    assert text.rstrip().endswith("[run]\nhf_hub_offline = true")
    assert config.updated_text(tmp_path / "absent.toml", {"run": {"hf_hub_offline": True}}) == "[run]\nhf_hub_offline = true\n"


def test_updated_text_refuses_what_it_cannot_edit(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("run = 3\n")
    with pytest.raises(config.ConfigError, match="`run` is a .*, not a table"):
        config.updated_text(path, {"run": {"hf_hub_offline": True}})
    path.write_text("[run\n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.updated_text(path, {"run": {"hf_hub_offline": True}})

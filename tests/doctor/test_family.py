"""The model family as data (doctor/data/families/*.json, read by runner.family) and the views derived from it."""

from __future__ import annotations

import json
import re

import pytest

from doctor.assets import ASSETS_PATH, assets
from runner.family import (
    FamilyError,
    family,
    family_ids,
    hf_download_argv,
    install_layout,
    load,
)


def test_the_family_file_lists_every_file_of_every_role_with_its_sources():
    fam = family()
    assert fam.id == "diffrhythm-1.2" and "diffrhythm-1.2" in family_ids()
    assert re.fullmatch(r"[0-9a-f]{40}", fam.upstream_commit)
    for role in fam.weights:
        assert role.files and role.sources, role.id
        for f in role.files:
            assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256)
            assert f.formats and f.min_bytes > 0
    # whole repositories: MuQ-MuLan, its audio model and the text model need their configs and tokenizers too
    assert [f.name for f in fam.weight("xlmr").files] == [
        "config.json", "tokenizer_config.json", "sentencepiece.bpe.model", "tokenizer.json", "model.safetensors"]
    assert fam.weight("xlmr").repo == "xlm-roberta-base"  # the id muq passes: its cache folder is the one found
    assert {f.name for f in fam.weight("muq").files} == {"config.json", "pytorch_model.bin"}
    assert "ASLP-lab/DiffRhythm-base" in fam.weight("cfm").aliases
    assert fam.espeak_voices == ("cmn", "en-us", "ko", "fr-fr", "de")


def test_assets_json_holds_no_family_data_and_the_merged_view_is_derived():
    raw = json.loads(ASSETS_PATH.read_text(encoding="utf-8"))
    assert not {"weights", "checkout_files", "espeak_voices", "checkout_markers"} & set(raw)
    view = assets()
    assert [w["id"] for w in view["weights"]] == [r.id for r in family().weights]
    assert view["espeak_voices"] == list(family().espeak_voices)


def test_one_download_command_for_a_role():
    role = family().weight("muq")
    assert hf_download_argv(role, "/c", force=True) == [
        "hf", "download", "OpenMuQ/MuQ-MuLan-large", "config.json", "pytorch_model.bin", "--cache-dir", "/c",
        "--force-download"]


def test_the_install_folder_is_defined_once():
    layout = install_layout(env={"XDG_DATA_HOME": "/d", "HOME": "/h"})
    assert layout.checkout.as_posix() == "/d/drdoctor/diffrhythm-1.2/checkout"
    assert layout.python.as_posix() == "/d/drdoctor/diffrhythm-1.2/env/bin/python"


def test_a_broken_family_file_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"id": "x", "upstream": {"repo": "r", "commit": "c"},
                                "weights": [{"id": "vae", "label": "VAE", "repo": "a/b", "files": [{"name": "v.pt"}]}]}))
    with pytest.raises(FamilyError) as info:
        load(path)
    assert str(path) in str(info.value) and "vae file 0" in str(info.value) and "'min_bytes'" in str(info.value)

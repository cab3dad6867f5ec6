"""The one weight resolver (runner.hf_cache, runner.model_paths) on real files in temporary folders."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from weight_fixtures import (
    hf_put,
    safetensors,
    sized,
    style_models,
    torch_zip,
    torchscript,
)

from runner import hf_cache
from runner.errors import EnvironmentProblem
from runner.family import family
from runner.model_paths import ModelPaths, resolve


@pytest.fixture(autouse=True)
def empty_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "hub"


def test_snapshot_order_refs_then_newest(tmp_path):
    pre = tmp_path / "checkout" / "pretrained"
    old = hf_put(pre, "ASLP-lab/DiffRhythm-1_2", "cfm_model.pt", torch_zip() + b"old", revision="rev-old")
    new = hf_put(pre, "ASLP-lab/DiffRhythm-1_2", "cfm_model.pt", torch_zip() + b"new", revision="rev-new")
    hf_put(pre, "ASLP-lab/DiffRhythm-vae", "vae_model.pt", torchscript())
    refs = pre / "models--ASLP-lab--DiffRhythm-1_2" / "refs" / "main"
    refs.write_text("rev-old")
    assert resolve(tmp_path / "checkout", ModelPaths(), 2048).cfm == old  # refs/main wins
    refs.unlink()
    os.utime(new.parent, (2e9, 2e9))
    assert resolve(tmp_path / "checkout", ModelPaths(), 2048).cfm == new  # else the newest snapshot


def test_plain_folder_layouts_and_the_order_of_places(tmp_path):
    flat = tmp_path / "flat"
    sized(flat / "full" / "cfm_model.pt", torch_zip(), 0)
    sized(flat / "cfm_model.pt", torch_zip(), 0)
    hf_put(tmp_path / "checkout" / "pretrained", "ASLP-lab/DiffRhythm-vae", "vae_model.pt", torchscript())
    chosen = resolve(tmp_path / "checkout", ModelPaths.from_any(str(flat)), 6144)
    assert chosen.cfm == flat / "full" / "cfm_model.pt"
    assert chosen.vae.name == "vae_model.pt" and "pretrained" in str(chosen.vae)  # the checkout's cache, searched next
    assert resolve(tmp_path / "checkout", ModelPaths.from_any({"dir": str(flat)}), 2048).cfm == flat / "cfm_model.pt"
    explicit = sized(tmp_path / "mine.pt", torch_zip(), 0)
    assert resolve(tmp_path / "checkout", ModelPaths(cfm=explicit, dir=flat), 2048).cfm == explicit
    with pytest.raises(EnvironmentProblem) as info:
        resolve(tmp_path / "nowhere", ModelPaths(), 6144)
    assert "full DiT weights (songs 96-285 s)" in info.value.message
    assert info.value.remedy.startswith("download it: `hf download ASLP-lab/DiffRhythm-1_2-full cfm_model.pt`")


def test_the_hub_cache_and_the_older_repository_names_are_searched(tmp_path, empty_hub):
    # The base model under its pre-1.2 repository name, in the user's hub cache (the runner never looked there).
    link = hf_put(empty_hub, "ASLP-lab/DiffRhythm-base", "cfm_model.pt", torch_zip())
    hf_put(empty_hub, "ASLP-lab/DiffRhythm-vae", "vae_model.pt", torchscript())
    assert resolve(None, ModelPaths(), 2048).cfm == link


def test_a_broken_first_copy_gives_way_to_a_good_one(tmp_path):
    models = tmp_path / "models"
    sized(models / "cfm_model.pt", b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n", 0)
    good = hf_put(tmp_path / "checkout" / "pretrained", "ASLP-lab/DiffRhythm-1_2", "cfm_model.pt", torch_zip())
    hf_put(tmp_path / "checkout" / "pretrained", "ASLP-lab/DiffRhythm-vae", "vae_model.pt", torchscript())
    assert resolve(tmp_path / "checkout", ModelPaths(dir=models), 2048).cfm == good

    good.unlink()  # now only the pointer: refused with what it is and the command that fetches every file
    with pytest.raises(EnvironmentProblem) as info:
        resolve(tmp_path / "checkout", ModelPaths(dir=models), 2048)
    assert "git-lfs pointer" in info.value.message and str(models / "cfm_model.pt") in info.value.message
    assert "hf download ASLP-lab/DiffRhythm-1_2 cfm_model.pt" in info.value.remedy


@pytest.mark.parametrize("name", [
    "3e819b317ce2cf1fb22f386d74f351b697204ec1f57f03edfe50dbca71cf0768.incomplete",  # huggingface_hub < 1.0
    "3e819b317ce2cf1fb22f386d74f351b697204ec1f57f03edfe50dbca71cf0768.1a2b3c4d.incomplete",  # 2.x, per process
])
def test_both_partial_download_names_are_found(tmp_path, name):
    blobs = tmp_path / "pre" / "models--ASLP-lab--DiffRhythm-1_2" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / name).write_bytes(b"PK\x03\x04 half")
    (blobs / "notes.txt").write_text("not a partial")
    where = hf_cache.Places(caches=(tmp_path / "pre",))
    found = hf_cache.find(family().weight("cfm"), where)
    assert [p.path.name for p in found.partials] == [name]
    assert found.partials[0].per_process == (name.count(".") == 2)
    assert found.partials[0].blob.startswith("3e819b31") and found.copies == ()


def test_whole_repositories_need_every_file_in_one_cache(tmp_path):
    cache = tmp_path / "checkout" / "pretrained"
    hf_put(cache, "ASLP-lab/DiffRhythm-1_2", "cfm_model.pt", torch_zip())
    hf_put(cache, "ASLP-lab/DiffRhythm-vae", "vae_model.pt", torchscript())
    links = style_models(cache, revision="muqrev")
    got = resolve(tmp_path / "checkout", ModelPaths(), 2048)
    assert got.muq == links["muq/config.json"].parent and got.muq_revision == "muqrev"
    assert got.style_cache == cache and got.style_problem == ""
    # muq asks for "xlm-roberta-base": that name's cache folder is the one that counts
    assert (cache / "models--xlm-roberta-base").is_dir()

    links["xlmr/tokenizer.json"].unlink()  # one file of a whole repository missing: no usable style encoder
    got = resolve(tmp_path / "checkout", ModelPaths(), 2048)
    assert got.muq is None and "tokenizer.json is missing" in got.style_problem
    assert ("hf download xlm-roberta-base config.json tokenizer_config.json sentencepiece.bpe.model tokenizer.json "
            "model.safetensors") in got.style_problem


def test_configured_snapshots_keep_their_cache_for_muq(tmp_path):
    # what `drdoctor fix models.paths` records: each role's snapshot folder; MuQ-MuLan still finds its two helpers
    cache = tmp_path / "hub-elsewhere"
    links = style_models(cache, revision="rev9")
    configured = ModelPaths(muq=links["muq/config.json"].parent, muq_audio=links["muq_audio/config.json"].parent,
                            xlmr=links["xlmr/config.json"].parent)
    got = resolve(None, configured, 2048, need_cfm=False, need_vae=False)
    assert got.style_problem == "" and got.style_cache == cache and got.muq_revision == "rev9"


def test_an_alternative_weight_name_serves(tmp_path):
    cache = tmp_path / "pre"
    hf_put(cache, "OpenMuQ/MuQ-MuLan-large", "config.json", b"{}")
    hf_put(cache, "OpenMuQ/MuQ-MuLan-large", "model.safetensors", safetensors())  # instead of pytorch_model.bin
    copy = hf_cache.best(hf_cache.find(family().weight("muq"), hf_cache.Places(caches=(cache,))))
    assert copy is not None and copy.files["pytorch_model.bin"].name == "model.safetensors"


def test_the_resolver_is_torch_free():
    code = ("import sys, runner.hf_cache, runner.model_paths, runner.weight_files, runner.hash_cache, runner.family; "
            "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

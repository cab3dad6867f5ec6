"""Checkpoint loading refusals and fingerprints, with real files written in a temporary folder."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
import torch

from runner.errors import EnvironmentProblem
from runner.weights import fingerprint, load_state_dict_checked


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inp = torch.nn.Linear(16, 32)
        self.mid = torch.nn.Linear(32, 32)
        self.out = torch.nn.Linear(32, 8)


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path / "xdg-cache"


def trained_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return {k: v.clone() for k, v in Net().state_dict().items()}


def assert_equal_state(module: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    for key, value in module.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_plain_checkpoint_loads(tmp_path):
    state = trained_state()
    path = tmp_path / "cfm_model.pt"
    torch.save({"model_state_dict": state, "optimizer": {}}, path)
    net = Net()
    report = load_state_dict_checked(net, path)
    assert report.missing == [] and report.unexpected == []
    assert report.loaded == 6 and report.source == "model_state_dict"
    assert_equal_state(net, state)


def test_ema_variant_strips_prefix_and_bookkeeping(tmp_path):
    state = trained_state()
    ema = {f"ema_model.{k}": v + 1 for k, v in state.items()}
    ema["initted"] = torch.tensor(True)
    ema["step"] = torch.tensor(1000)
    path = tmp_path / "ema.pt"
    torch.save({"model_state_dict": state, "ema_model_state_dict": ema}, path)

    net = Net()
    report = load_state_dict_checked(net, path, prefer_ema=True)
    assert report.source == "ema_model_state_dict" and report.unexpected == [] and report.missing == []
    assert_equal_state(net, {k: v + 1 for k, v in state.items()})

    plain = Net()
    assert load_state_dict_checked(plain, path).source == "model_state_dict"
    assert_equal_state(plain, state)


def test_ema_only_checkpoint_is_used_even_without_prefer_ema(tmp_path):
    state = trained_state()
    path = tmp_path / "ema_only.pt"
    torch.save({"ema_model_state_dict": {f"ema_model.{k}": v for k, v in state.items()}}, path)
    net = Net()
    assert load_state_dict_checked(net, path).source == "ema_model_state_dict"
    assert_equal_state(net, state)


def test_git_lfs_pointer_is_refused(tmp_path):
    path = tmp_path / "cfm_model.pt"
    path.write_text(
        "version https://git-lfs.github.com/spec/v1\n"
        "oid sha256:4d3a1e3bdbd0b5a7d0c3a3e0cbd2e4a3f7fb0d8e2f3c1b5a6d7e8f9a0b1c2d3e\n"
        "size 4419372338\n"
    )
    with pytest.raises(EnvironmentProblem) as info:
        load_state_dict_checked(Net(), path)
    assert str(path) in info.value.message and "git-lfs pointer" in info.value.message
    assert "git lfs pull" in info.value.remedy


def test_truncated_checkpoint_is_refused(tmp_path):
    path = tmp_path / "cfm_model.pt"
    torch.save({"model_state_dict": trained_state()}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(EnvironmentProblem) as info:
        load_state_dict_checked(Net(), path)
    assert str(path) in info.value.message and "truncated" in info.value.message
    assert info.value.remedy


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "cfm_model.pt"
    path.write_bytes(b"")
    with pytest.raises(EnvironmentProblem, match="empty"):
        load_state_dict_checked(Net(), path)


def test_incomplete_download_is_refused(tmp_path):
    blobs = tmp_path / "models--ASLP-lab--DiffRhythm-1_2" / "blobs"
    snap = tmp_path / "models--ASLP-lab--DiffRhythm-1_2" / "snapshots" / "abc"
    blobs.mkdir(parents=True)
    snap.mkdir(parents=True)
    blob = blobs / ("0" * 64)
    (blobs / (blob.name + ".incomplete")).write_bytes(b"\0" * 100)
    link = snap / "cfm_model.pt"
    link.symlink_to(blob)
    with pytest.raises(EnvironmentProblem) as info:
        load_state_dict_checked(Net(), link)
    assert "never finished" in info.value.message and str(link) in info.value.message
    with pytest.raises(EnvironmentProblem, match="unfinished download"):
        load_state_dict_checked(Net(), blobs / (blob.name + ".incomplete"))


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(EnvironmentProblem, match="does not exist"):
        load_state_dict_checked(Net(), tmp_path / "nope.pt")


def test_wrong_checkpoint_with_other_keys_is_refused(tmp_path):
    state = {f"renamed.{k}": v for k, v in trained_state().items()}
    path = tmp_path / "other.pt"
    torch.save({"model_state_dict": state}, path)
    net = Net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(EnvironmentProblem) as info:
        load_state_dict_checked(net, path)
    assert "0 of 6 tensors matched, 6 unexpected" in info.value.message
    assert_equal_state(net, before)  # nothing was loaded


def test_mostly_missing_is_refused_but_a_few_missing_loads_with_a_warning(tmp_path):
    state = trained_state()
    few = {k: v for k, v in state.items() if not k.startswith("out.")}  # 4 of 6 tensors, most weights
    path = tmp_path / "few.pt"
    torch.save({"model_state_dict": few}, path)
    report = load_state_dict_checked(Net(), path)
    assert report.missing == ["out.weight", "out.bias"] and report.loaded == 4
    assert report.warnings and "2 tensors at random values" in report.warnings[0]

    most = {k: v for k, v in state.items() if k.startswith("out.")}
    path2 = tmp_path / "most.pt"
    torch.save({"model_state_dict": most}, path2)
    with pytest.raises(EnvironmentProblem, match="does not fit this network"):
        load_state_dict_checked(Net(), path2)


def test_other_shapes_are_refused(tmp_path):
    state = trained_state()
    state["mid.weight"] = torch.zeros(16, 32)
    path = tmp_path / "shape.pt"
    torch.save({"model_state_dict": state}, path)
    with pytest.raises(EnvironmentProblem, match="different network"):
        load_state_dict_checked(Net(), path)


def test_not_a_checkpoint_dict_is_refused(tmp_path):
    path = tmp_path / "list.pt"
    torch.save({"something": 1, "else": [1, 2]}, path)
    with pytest.raises(EnvironmentProblem, match="no model weights"):
        load_state_dict_checked(Net(), path)


def test_safetensors(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    state = trained_state()
    path = tmp_path / "model.safetensors"
    safetensors.save_file(state, str(path))
    net = Net()
    assert load_state_dict_checked(net, path).source == "state_dict"
    assert_equal_state(net, state)


def test_fingerprint_hashes_and_caches(tmp_path, cache_home):
    path = tmp_path / "vae_model.pt"
    path.write_bytes(b"weights" * 1000)
    real = hashlib.sha256(path.read_bytes()).hexdigest()
    print1 = fingerprint(path, "vae")
    assert print1 == {"role": "vae", "path": str(path), "bytes": 7000, "sha256": real}

    cache_file = cache_home / "drdoctor" / "sha256.json"
    cached = json.loads(cache_file.read_text())
    (key,) = cached
    assert key.startswith(str(path.resolve()) + "|7000|")
    # the cached value is what the next call returns (the file is not read again) ...
    cache_file.write_text(json.dumps({key: "f" * 64}))
    assert fingerprint(path, "vae")["sha256"] == "f" * 64
    # ... until the file changes (size or mtime)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert fingerprint(path, "vae")["sha256"] == real


def test_fingerprint_checks_hf_blobs_against_their_name(tmp_path):
    repo = tmp_path / "models--ASLP-lab--DiffRhythm-vae"
    (repo / "blobs").mkdir(parents=True)
    (repo / "snapshots" / "rev").mkdir(parents=True)
    content = b"a complete blob"
    good = repo / "blobs" / hashlib.sha256(content).hexdigest()
    good.write_bytes(content)
    link = repo / "snapshots" / "rev" / "vae_model.pt"
    link.symlink_to(good)
    assert fingerprint(link, "vae")["sha256"] == good.name

    bad = repo / "blobs" / hashlib.sha256(b"the full file").hexdigest()
    bad.write_bytes(b"the full f")  # cut short
    link2 = repo / "snapshots" / "rev" / "cfm_model.pt"
    link2.symlink_to(bad)
    with pytest.raises(EnvironmentProblem) as info:
        fingerprint(link2, "cfm")
    assert "damaged" in info.value.message and str(bad) in info.value.remedy


def test_legacy_non_zip_checkpoint_still_loads(tmp_path):
    net = torch.nn.Linear(4, 4)
    state = {k: v + 1 for k, v in net.state_dict().items()}
    path = tmp_path / "legacy.pt"
    torch.save({"model_state_dict": state}, path, _use_new_zipfile_serialization=False)
    other = torch.nn.Linear(4, 4)
    assert load_state_dict_checked(other, path).loaded == 2
    assert torch.equal(other.weight, state["weight"])

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
    assert "the network has 6 tensors, the file 6: 0 match" in info.value.message
    assert "6 are missing from the file, 6 have no place in the network" in info.value.message
    assert_equal_state(net, before)  # nothing was loaded


class Deeper(Net):
    """The same network one layer deeper: what a checkpoint of another depth is to the DiT."""

    def __init__(self) -> None:
        super().__init__()
        self.mid2 = torch.nn.Linear(32, 32)


def test_any_tensor_left_at_its_initial_value_is_refused(tmp_path):
    # Before: 4 of 6 tensors loaded "with a warning" and the run went on with a random output layer.
    few = {k: v for k, v in trained_state().items() if not k.startswith("out.")}
    path = tmp_path / "few.pt"
    torch.save({"model_state_dict": few}, path)
    net = Net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(EnvironmentProblem) as info:
        load_state_dict_checked(net, path)
    message = info.value.message
    assert str(path) in message and "the network has 6 tensors, the file 4: 4 match" in message
    assert "2 are missing from the file" in message and "out.weight" in message
    assert_equal_state(net, before)


def test_a_checkpoint_of_another_depth_is_refused_both_ways(tmp_path):
    shallow = tmp_path / "shallow.pt"
    torch.save({"model_state_dict": trained_state()}, shallow)
    with pytest.raises(EnvironmentProblem) as info:
        load_state_dict_checked(Deeper(), shallow)  # a network deeper than the checkpoint
    assert "the network has 8 tensors, the file 6: 6 match" in info.value.message and "2 are missing" in info.value.message

    deep = tmp_path / "deep.pt"
    torch.save({"model_state_dict": Deeper().state_dict()}, deep)
    with pytest.raises(EnvironmentProblem) as info:
        load_state_dict_checked(Net(), deep)  # tensors the network has no place for: refused, not ignored
    assert "the network has 6 tensors, the file 8: 6 match" in info.value.message
    assert "2 have no place in the network" in info.value.message and "mid2.weight" in info.value.message


def test_other_shapes_are_refused_counting_what_really_matched(tmp_path):
    state = trained_state()
    state["mid.weight"] = torch.zeros(16, 32)
    path = tmp_path / "shape.pt"
    torch.save({"model_state_dict": state}, path)
    with pytest.raises(EnvironmentProblem) as info:
        load_state_dict_checked(Net(), path)
    # before: "6 of 6 tensors matched" although one had another shape
    assert "different network" in info.value.message and "5 match, 1 have other shapes" in info.value.message
    assert "mid.weight (16, 32) vs (32, 32)" in info.value.message


def test_file_formats_are_judged_by_their_bytes_not_their_names(tmp_path):
    import pickle

    pickled = tmp_path / "model.safetensors"  # a plain pickle under a safetensors name
    pickled.write_bytes(pickle.dumps({"weights": [1, 2, 3]}, protocol=4))
    with pytest.raises(EnvironmentProblem) as info:
        load_state_dict_checked(Net(), pickled)
    assert "a plain Python pickle, not a torch checkpoint" in info.value.message
    assert "hf download ASLP-lab/DiffRhythm-1_2 cfm_model.pt" in info.value.remedy

    script = tmp_path / "cfm_model.pt"  # the VAE's kind of file where the DiT's state dict belongs
    torch.jit.save(torch.jit.script(Net().inp), str(script))
    with pytest.raises(EnvironmentProblem) as info:
        load_state_dict_checked(Net(), script)
    assert "a TorchScript archive (torch.jit.save)" in info.value.message and "checkpoint" in info.value.message

    page = tmp_path / "error.pt"
    page.write_text("<!DOCTYPE html><html><body>401 Unauthorized</body></html>")
    with pytest.raises(EnvironmentProblem, match="an HTML page"):
        load_state_dict_checked(Net(), page)


def test_safetensors_bytes_under_a_pt_name_load_as_safetensors(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    state = trained_state()
    renamed = tmp_path / "weights.pt"  # safetensors bytes under a .pt name load as what they are
    safetensors.save_file(state, str(renamed))
    net = Net()
    assert load_state_dict_checked(net, renamed).source == "state_dict"
    assert_equal_state(net, state)


def test_no_remedy_names_a_fix_that_does_not_exist(tmp_path):
    from doctor.fixes import FIXES

    path = tmp_path / "cfm_model.pt"
    path.write_bytes(b"\0" * 100)
    with pytest.raises(EnvironmentProblem) as info:
        load_state_dict_checked(Net(), path)
    remedy = info.value.remedy
    named = [word.strip("`),.;") for word in remedy.split("drdoctor fix ")[1:]]
    assert all(name.split()[0].strip("`),.;") in FIXES for name in named), remedy
    assert "huggingface-cli" not in remedy and "hf download ASLP-lab/DiffRhythm-1_2 cfm_model.pt" in remedy


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
    assert list(cached) == [str(path.resolve())]
    # the cached value is what the next call returns (the file is not read again) ...
    cached[str(path.resolve())]["sha256"] = "f" * 64
    cache_file.write_text(json.dumps(cached))
    assert fingerprint(path, "vae")["sha256"] == "f" * 64
    # ... until the file changes: here its mtime
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert fingerprint(path, "vae")["sha256"] == real


def test_bytes_changed_with_size_and_mtime_kept_are_rehashed(tmp_path, cache_home):
    # Before: the cache trusted (size, mtime), so a file corrupted in place with its mtime put back kept its old hash.
    path = tmp_path / "vae_model.pt"
    path.write_bytes(b"A" * 4096)
    assert fingerprint(path, "vae")["sha256"] == hashlib.sha256(b"A" * 4096).hexdigest()
    stat = path.stat()
    with path.open("r+b") as handle:
        handle.write(b"B")  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    assert fingerprint(path, "vae")["sha256"] == hashlib.sha256(b"B" + b"A" * 4095).hexdigest()


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

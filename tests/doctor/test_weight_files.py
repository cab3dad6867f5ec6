"""What a weight file is, from its first bytes (runner.weight_files), and what the doctor then says about it."""

from __future__ import annotations

import pickle

import pytest
from doctor_machines import build_root, checkup, finding, make_venv
from weight_fixtures import (
    family_weights,
    hf_put,
    safetensors,
    sized,
    torch_legacy,
    torch_zip,
    torchscript,
)

from runner.family import family
from runner.weight_files import judge, sniff

CHECKOUT = "/home/alice/DiffRhythm"


@pytest.mark.parametrize(("data", "kind"), [
    (torch_zip(), "torch_zip"),
    (torchscript(), "torchscript"),
    (torch_legacy(), "torch_legacy"),
    (pickle.dumps({"a": 1}, protocol=4), "pickle"),
    (safetensors(), "safetensors"),
    (safetensors()[:-4], "safetensors_damaged"),  # cut: its header promises more bytes than there are
    (torch_zip()[:-30], "zip_damaged"),  # cut: the zip directory at its end is gone
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12\n", "lfs_pointer"),
    (b"<!DOCTYPE html>\n<html><body>Access denied</body></html>", "html"),
    (b'{"dim": 2048', "json_damaged"),
    (b"", "empty"),
    (b"\0" * 64, "unknown"),
])
def test_each_format_is_named(tmp_path, data, kind):
    path = tmp_path / "file"
    path.write_bytes(data)
    assert sniff(path).kind == kind


def test_a_sparse_padded_zip_still_reads_as_its_format(tmp_path):
    path = sized(tmp_path / "cfm_model.pt", torch_zip(), 3_000_000_000)
    assert path.stat().st_size == 3_000_000_000 and sniff(path).kind == "torch_zip"


def test_the_expected_format_comes_from_the_family_data(tmp_path):
    dit = family().weight("cfm").files[0]
    vae = family().weight("vae").files[0]
    script = tmp_path / "x.pt"
    script.write_bytes(torchscript())
    assert judge(script, vae).ok
    verdict = judge(script, dit)
    assert not verdict.ok and verdict.problem.startswith("a TorchScript archive (torch.jit.save), where a torch.save")


def test_the_doctor_says_what_a_misplaced_file_really_is(tmp_path):
    root = build_root(tmp_path / "m", "no_gpu", at={"checkout": CHECKOUT})
    pretrained = root / CHECKOUT.lstrip("/") / "pretrained"
    family_weights(pretrained, ("muq", "muq_audio", "xlmr"))
    hf_put(pretrained, "ASLP-lab/DiffRhythm-1_2", "cfm_model.pt", torchscript())  # the VAE's kind of file
    hf_put(pretrained, "ASLP-lab/DiffRhythm-vae", "vae_model.pt", pickle.dumps([1, 2], protocol=2))
    report = checkup(root, make_venv(tmp_path / "venv", None))
    cfm = finding(report, "models.cfm")
    assert cfm.status.value == "fail" and "a TorchScript archive (torch.jit.save), where a torch.save" in cfm.title
    assert "hf download ASLP-lab/DiffRhythm-1_2 cfm_model.pt" in cfm.detail and "--force-download" in cfm.detail
    vae = finding(report, "models.vae")
    assert vae.status.value == "fail" and "a plain Python pickle, not a torch checkpoint" in vae.title
    assert finding(report, "models.muq").status.value == "ok"


def test_a_large_json_file_is_judged_by_its_end(tmp_path):
    big = tmp_path / "tokenizer.json"
    big.write_bytes(b'{"vocab": [' + b'["tok", -1.0], ' * 200_000 + b'["end", 0.0]]}\n')
    assert big.stat().st_size > 1 << 20 and sniff(big).kind == "json"
    big.write_bytes(big.read_bytes()[:-40])  # cut
    assert sniff(big).kind == "json_damaged"

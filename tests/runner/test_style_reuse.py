"""--style-embedding FILE and --style-from RUN_DIR: no style encoder, the same latents, bad files refused."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch


def latents(run) -> torch.Tensor:
    return torch.load(run.folder / "latents.pt", weights_only=True)["latents"]


@pytest.fixture
def broken_encoder_bundle(tmp_path, bundle_dir):
    """A copy of the bundle whose style encoder file is garbage: building the encoder would fail (exit 3)."""
    copy = tmp_path / "bundle-no-encoder"
    shutil.copytree(bundle_dir, copy)
    (copy / "style_encoder.pt").write_bytes(b"not a checkpoint" * 64)
    return copy


def test_style_from_reuses_the_vector_without_an_encoder(run_runner, tmp_path, broken_encoder_bundle):
    first = run_runner("--style", "dreamy synth pop", out=tmp_path / "a.wav")
    assert first.code == 0, first.stderr
    assert (first.folder / "style.pt").is_file()
    assert any(e["kind"] == "style" for e in first.of("artifact"))
    again = run_runner("--style-from", str(first.folder), "--bundle", str(broken_encoder_bundle), out=tmp_path / "b.wav")
    assert again.code == 0, again.stderr
    check = [e for e in again.of("check") if e["name"] == "style_vector"][0]
    assert "no style encoder loaded" in check["message"] and str(first.folder) in check["message"]
    assert torch.equal(latents(again), latents(first))
    assert torch.equal(torch.load(again.folder / "style.pt"), torch.load(first.folder / "style.pt"))


def test_broken_encoder_is_what_a_computed_style_would_hit(run_runner, tmp_path, broken_encoder_bundle):
    r = run_runner("--bundle", str(broken_encoder_bundle), "--style", "never computed before")
    assert r.code == 3 and r.error["stage"] == "style"


def test_style_embedding_npy_and_pt(run_runner, tmp_path, broken_encoder_bundle):
    vector = torch.nn.functional.normalize(torch.randn(512, generator=torch.Generator().manual_seed(3)), dim=0)
    np.save(tmp_path / "style.npy", vector.numpy().astype(np.float64))  # [512] float64 is fine
    torch.save(vector.reshape(1, 512), tmp_path / "style.pt")
    a = run_runner("--style-embedding", str(tmp_path / "style.npy"), "--bundle", str(broken_encoder_bundle),
                   out=tmp_path / "a.wav")
    b = run_runner("--style-embedding", str(tmp_path / "style.pt"), "--bundle", str(broken_encoder_bundle),
                   out=tmp_path / "b.wav")
    assert a.code == b.code == 0, a.stderr + b.stderr
    assert torch.equal(latents(a), latents(b))


@pytest.mark.parametrize(("name", "content", "said"), [
    ("shape.npy", np.zeros((2, 256), np.float32), "shape [2, 256]"),
    ("ints.npy", np.zeros((1, 512), np.int64), "int64"),
    ("nan.pt", torch.full((1, 512), float("nan")), "NaN"),
    ("dict.pt", {"style": torch.zeros(1, 512)}, "dict"),
    ("garbage.pt", b"garbage", "cannot be read"),
])
def test_bad_embedding_files_are_exit_2_naming_the_file(run_runner, tmp_path, name, content, said):
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    r = run_runner("--style-embedding", str(path))
    assert r.code == 2 and r.error["stage"] == "preflight", r.stderr
    assert str(path) in r.error["message"] and said in r.error["message"]
    assert not r.out.exists()


def test_style_from_a_folder_without_style_pt(run_runner, tmp_path):
    (tmp_path / "old-run").mkdir()
    r = run_runner("--style-from", str(tmp_path / "old-run"))
    assert r.code == 2 and "style.pt" in r.error["message"] and not r.out.exists()

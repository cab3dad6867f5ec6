"""The installer's "already downloaded?" is the resolver's judgement (runner.hf_cache.complete_in_cache): the same
search as the doctor's and the runner's find(), the same first-bytes verdict, plus the family's size and sha256 pins.
Real Hugging Face cache folders on disk, the real family's roles."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

from conftest import torch_archive

from doctor.install.hub_fetch import Wanted, present
from runner import hf_cache
from runner.family import family

COMMIT = "a" * 40


def cache_file(cache: Path, repo: str, name: str, data: bytes, blob_name: str | None = None) -> Path:
    folder = hf_cache.repo_folder(cache, repo)
    blob = folder / "blobs" / (blob_name or hashlib.sha256(data).hexdigest())
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    pointer = folder / "snapshots" / COMMIT / name
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.symlink_to(os.path.relpath(blob, pointer.parent))
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(COMMIT)
    return pointer


def test_a_cached_file_the_doctor_finds_broken_is_not_already_downloaded(tmp_path):
    """An HTML error page saved as the VAE (the family knows no sha256 for it; its blob is named by its own
    sha256): the old check trusted any blob with a hash for a name; now both say broken."""
    role = family().weight("vae")
    cache_file(tmp_path, role.repo, "vae_model.pt", b"<!DOCTYPE html><html>502 Bad Gateway</html>")
    assert present(tmp_path, Wanted(role, role.files[0]), verify=False) is None
    found = hf_cache.find(role, hf_cache.Places(caches=(tmp_path,)))
    assert found.copies and hf_cache.best(found) is None  # the doctor and the runner: found, not usable


def test_a_good_file_is_in_place_for_both(tmp_path):
    role = family().weight("vae")
    pointer = cache_file(tmp_path, role.repo, "vae_model.pt", torch_archive("torchscript", b"x" * 4096))
    assert present(tmp_path, Wanted(role, role.files[0]), verify=True) == pointer
    assert hf_cache.best(hf_cache.find(role, hf_cache.Places(caches=(tmp_path,)))).path == pointer


def test_the_alternative_name_the_doctor_accepts_is_in_place(tmp_path):
    """xlm-roberta-base as pytorch_model.bin instead of model.safetensors: the loader takes either."""
    role = family().weight("xlmr")
    wanted = next(f for f in role.files if f.name == "model.safetensors")
    pointer = cache_file(tmp_path, role.repo, "pytorch_model.bin", torch_archive("torch_zip", b"w" * 4096))
    assert present(tmp_path, Wanted(role, wanted), verify=False) == pointer


def test_the_familys_pins_refuse_a_well_formed_file_of_another_sha256(tmp_path):
    role = family().weight("cfm")  # pinned: size 2218709125 and its sha256
    wanted = role.files[0]
    data = torch_archive("torch_zip", b"c" * 4096)
    cache_file(tmp_path, role.repo, wanted.name, data)
    assert not hf_cache.matches_pins(tmp_path / "x" / wanted.name, wanted)  # not even there
    assert present(tmp_path, Wanted(role, wanted), verify=False) is None
    # a blob under the pinned sha256 but with other bytes (size unpinned): trusted by its name, refused once its
    # bytes are hashed (--repair)
    unsized = dataclasses.replace(wanted, size=None)
    pointer = cache_file(tmp_path / "other", role.repo, wanted.name, data, blob_name=wanted.sha256)
    assert hf_cache.matches_pins(pointer, unsized) and not hf_cache.matches_pins(pointer, unsized, verify=True)

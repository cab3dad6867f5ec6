"""Whole checkups of fixture machines: real files in a root folder, real venvs as target interpreters."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from doctor_machines import (
    HOME,
    build_root,
    checkup,
    finding,
    make_venv,
    sparse,
    status,
)
from weight_fixtures import family_weights, sized, torch_zip, torchscript

from doctor.assets import assets
from runner.family import family

CHECKOUT = f"{HOME}/DiffRhythm"


def test_wsl2_with_a_driver_and_a_cpu_torch(tmp_path):
    root = build_root(tmp_path / "m", "wsl2", at={"checkout": "/mnt/c/Users/alice/DiffRhythm"})
    python = make_venv(tmp_path / "venv", "cpu_torch_2.13")
    report = checkup(root, python, env={"WSL_DISTRO_NAME": "Ubuntu"}, diffrhythm="/mnt/c/Users/alice/DiffRhythm")

    assert report.facts.platform.kind == "wsl2"
    assert report.facts.platform.wsl_gpu_device and report.facts.gpu.wsl_libcuda == ("libcuda.so.1",)
    assert report.facts.gpu.cuda_driver == (12, 7)
    assert status(report, "platform.wsl") == "ok" and "WSL2" in finding(report, "platform.wsl").title
    assert status(report, "gpu.driver") == "ok" and "RTX 3080" in finding(report, "gpu.driver").title
    assert status(report, "gpu.wsl_libcuda") == "ok"

    build = finding(report, "torch.build")
    assert build.status.value == "fail" and build.fix == "torch.reinstall"
    assert "CPU-only" in build.title
    # CUDA 12.7 driver, compute capability 8.6: the newest variant it fully supports is cu126 (torch 2.13.0).
    assert f"{python} -m pip install 'torch==2.13.0+cu126' --index-url https://download.pytorch.org/whl/cu126" in build.detail

    assert status(report, "pkg.transformers") == "fail"
    assert finding(report, "pkg.transformers").fix == "transformers.pin"
    assert "4.57.1" in finding(report, "pkg.transformers").title
    limit = finding(report, "mem.wsl_limit")
    assert limit.status.value == "warn" and limit.fix == "wsl.memory" and "memory=6.0 GiB" in limit.title
    assert "C:\\Users\\alice\\.wslconfig" in limit.detail
    drvfs = finding(report, "platform.drvfs_models")
    assert drvfs.status.value == "warn" and "/mnt/c" in drvfs.title and drvfs.fix == "models.paths"
    assert status(report, "torch.torchaudio_pair") == "info"
    assert status(report, "models.checkout") == "ok"
    assert report.failed


def test_native_linux_with_an_old_driver_and_a_cu124_torch(tmp_path):
    root = build_root(tmp_path / "m", "native_old_driver", at={"checkout": CHECKOUT})
    python = make_venv(tmp_path / "venv", "cu124_torch_2.5")
    report = checkup(root, python)

    assert report.facts.platform.kind == "linux"
    assert report.facts.gpu.driver_version == "470.223.02" and report.facts.gpu.cuda_driver == (11, 4)
    assert report.facts.gpu.kernel_module_version == "470.223.02"
    assert report.facts.python.torch.variant == "cu124" and report.facts.python.torch.cuda == "12.4"
    assert status(report, "torch.build") == "ok"
    match = finding(report, "torch.cuda_match")
    assert match.status.value == "fail" and match.fix == "torch.reinstall"
    assert "CUDA 12.4" in match.title and "CUDA 11.4" in match.title
    # muq is installed there: the advice keeps the torchaudio it imports
    assert "'torch==2.7.1+cu118' 'torchaudio==2.7.1+cu118' --index-url https://download.pytorch.org/whl/cu118" in match.detail
    assert status(report, "torch.arch") == "ok"  # a T4 (7.5) is in the cu124 build's list
    assert status(report, "torch.torchaudio_pair") == "ok"
    assert status(report, "pkg.transformers") == "ok"
    assert report.facts.checkout.path == CHECKOUT and report.facts.checkout.source == "usual place"
    assert status(report, "gpu.wsl_libcuda") == "skip" and status(report, "mem.wsl_limit") == "skip"


def test_same_major_newer_build_is_a_warning_above_the_mvc_floor(tmp_path):
    root = build_root(tmp_path / "m", "native_old_driver")
    snapshot = json.loads((root / "nvml.json").read_text())
    snapshot.update(driver_version="535.183.01", cuda_driver_version=12020)
    (root / "nvml.json").write_text(json.dumps(snapshot))
    report = checkup(root, make_venv(tmp_path / "venv", "cu124_torch_2.5"))
    match = finding(report, "torch.cuda_match")
    assert match.status.value == "warn" and "minor-version compatibility" in match.detail and match.fix is None


def _driver(root: Path, version: str, cuda: int) -> Path:
    """Make the fixture's driver another one: the NVML snapshot and the kernel module agree on `version`."""
    snapshot = json.loads((root / "nvml.json").read_text())
    snapshot.update(driver_version=version, cuda_driver_version=cuda)
    (root / "nvml.json").write_text(json.dumps(snapshot))
    (root / "proc/driver/nvidia/version").write_text(f"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {version}  Thu Feb 22 01:44:30 UTC 2024\n")
    return root


def test_a_cu126_build_on_a_cuda_12_4_driver_warns_and_offers_no_downgrade(tmp_path, capsys):
    from doctor.cli import main

    root = _driver(build_root(tmp_path / "m", "native_old_driver"), "550.54.14", 12040)
    python = make_venv(tmp_path / "venv", "cu126_torch_2.13")
    report = checkup(root, python)

    match = finding(report, "torch.cuda_match")
    assert match.status.value == "warn" and match.fix is None
    assert "CUDA 12.6" in match.title and "CUDA 12.4" in match.title and "560.28.03" in match.title
    assert "error 222" in match.detail and "torch.compile" in match.detail and "Triton" in match.detail
    assert "updating the NVIDIA driver to 560.28.03" in match.detail and "pip install" not in match.detail
    assert [f.id for f in report.findings if f.fix == "torch.reinstall"] == []
    audio = finding(report, "torch.torchaudio_pair")  # no muq here: computing a style is what would need torchaudio
    assert audio.status.value == "info" and "MuQ-MuLan" in audio.detail and "muq" in audio.detail

    # `drdoctor fix` with no ids plans no torch.reinstall here, and asked for by name it finds nothing to do.
    flags = ["--root", str(root), "--python", python, "--nvml-snapshot", str(root / "nvml.json")]
    assert main(["fix", "--dry-run", "--json", *flags]) == 0
    planned = [plan["fix"] for plan in json.loads(capsys.readouterr().out)["plans"]]
    assert "torch.reinstall" not in planned
    assert main(["fix", "--dry-run", "--json", "torch.reinstall", *flags]) == 0
    [plan] = json.loads(capsys.readouterr().out)["plans"]
    assert plan["state"] == "done" and "minor-version compatibility" in plan["reason"]


@pytest.mark.parametrize(("layer", "driver", "command"), [
    ("native_old_driver", ("560.35.03", 12060),
     "'torch==2.11.0+cu126' 'torchaudio==2.11.0+cu126' --index-url https://download.pytorch.org/whl/cu126"),
    ("no_gpu", None, "'torch==2.11.0+cpu' 'torchaudio==2.11.0+cpu' --index-url https://download.pytorch.org/whl/cpu"),
])
def test_muq_beside_a_torch_without_torchaudio_fails(tmp_path, layer, driver, command):
    # `pip install muq` beside torch 2.13 also brings PyPI's torchaudio 2.11.0 (it declares no torch pin).
    root = build_root(tmp_path / "m", layer)
    if driver:
        _driver(root, *driver)
    python = make_venv(tmp_path / "venv", "cu126_torch_2.13" if driver else "cpu_torch_2.13", "muq_and_torchaudio_2.11")
    report = checkup(root, python)

    audio = finding(report, "torch.torchaudio_pair")
    assert audio.status.value == "fail" and audio.fix == "torch.reinstall"
    assert "torch 2.13.0+" in audio.title and "muq 0.1.0" in audio.title
    assert "imports torchaudio" in audio.detail and "2.12 or newer" in audio.detail
    assert "torchaudio 2.11.0 here was built for an older torch" in audio.detail
    assert f"{python} -m pip install {command}" in audio.detail


def test_muq_without_torchaudio_beside_torch_2_5_fails(tmp_path):
    root = build_root(tmp_path / "m", "native_old_driver")
    python = make_venv(tmp_path / "venv", "cu124_torch_2.5")
    [dist_info] = (tmp_path / "venv").glob("lib/python*/site-packages/torchaudio-*.dist-info")
    shutil.rmtree(dist_info)
    audio = finding(checkup(root, python), "torch.torchaudio_pair")
    assert audio.status.value == "fail" and audio.fix == "torch.reinstall"
    assert "muq 0.1.0 needs it" in audio.title and "torchaudio==2.5.1" in audio.detail


def test_a_newer_gpu_than_the_build_knows_fails_torch_arch(tmp_path):
    root = build_root(tmp_path / "m", "native_old_driver")
    snapshot = {"status": "ok", "driver_version": "575.57.08", "cuda_driver_version": 12090,
                "devices": [{"name": "NVIDIA GeForce RTX 5090", "memory_total": 34190917632,
                             "memory_free": 33000000000, "compute_capability": [12, 0]}]}
    (root / "nvml.json").write_text(json.dumps(snapshot))
    report = checkup(root, make_venv(tmp_path / "venv", "cu124_torch_2.5"))
    arch = finding(report, "torch.arch")
    assert arch.status.value == "fail" and "too new" in arch.title and "12.0" in arch.title
    assert "+cu129" in arch.detail  # the newest CUDA variant this driver runs that has sm_120 code


def test_no_gpu_with_a_cuda_torch_beside_muq_is_told_the_cpu_build_muq_can_use(tmp_path):
    # what `drdoctor install` builds on a CPU machine (PyPI's CUDA torch 2.11): a CPU build is smaller, but
    # muq imports torchaudio, whose last release pairs with torch 2.11, so the advice must stay there
    report = checkup(build_root(tmp_path / "m", "no_gpu"),
                     make_venv(tmp_path / "venv", "default_index_torch_2.14", "muq_and_torchaudio_2.11"))
    build = finding(report, "torch.build")
    assert build.status.value == "info"
    assert "'torch==2.11.0+cpu' 'torchaudio==2.11.0+cpu' --index-url https://download.pytorch.org/whl/cpu" in build.detail


def test_no_gpu_at_all_with_a_default_index_cuda_wheel(tmp_path):
    root = build_root(tmp_path / "m", "no_gpu")
    python = make_venv(tmp_path / "venv", "default_index_torch_2.14")
    report = checkup(root, python)

    torch = report.facts.python.torch
    assert torch.metadata_version == "2.14.1" and torch.version == "2.14.1+cu130" and torch.variant == "cu130"
    assert report.facts.gpu.nvml == "no_library" and not report.facts.gpu.devices
    assert status(report, "gpu.driver") == "info"
    build = finding(report, "torch.build")
    assert build.status.value == "info" and "'torch==2.13.0+cpu' --index-url https://download.pytorch.org/whl/cpu" in build.detail
    assert status(report, "torch.cuda_match") == "skip" and status(report, "torch.arch") == "skip"
    assert status(report, "torch.torchaudio_pair") == "warn"  # torchaudio 2.11 cannot load beside torch 2.14
    assert report.facts.platform.container == "docker"
    assert set(report.facts.platform.cpu_flags) >= {"avx512_bf16", "amx_bf16"}
    checkout = finding(report, "models.checkout")
    assert checkout.status.value == "fail" and f"{HOME}/DiffRhythm" in checkout.detail
    assert status(report, "sys.espeak") == "fail" and finding(report, "sys.espeak").fix == "espeak.install"


def test_a_kernel_module_without_nvml_still_gives_the_cuda_version(tmp_path):
    root = build_root(tmp_path / "m", "native_old_driver")
    (root / "nvml.json").write_text(json.dumps({"status": "no_library", "error": "libnvidia-ml.so.1 not found"}))
    (root / "proc/driver/nvidia/version").write_text(
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\n")
    report = checkup(root, make_venv(tmp_path / "venv", None))
    assert report.facts.gpu.cuda_driver == (12, 4) and report.facts.gpu.cuda_driver_source == "kernel module"
    driver = finding(report, "gpu.driver")
    assert driver.status.value == "warn" and "libnvidia-ml.so.1" in driver.title
    assert finding(report, "torch.build").title.startswith("torch is not installed")


def test_hf_cache_with_an_lfs_pointer_and_an_incomplete_blob(tmp_path):
    root = build_root(tmp_path / "m", "no_gpu", at={"checkout": CHECKOUT})
    build_root(root / CHECKOUT.lstrip("/"), "broken_hf_cache")
    report = checkup(root, make_venv(tmp_path / "venv", None))

    cfm = report.facts.models.weight("cfm")
    pointer = cfm.copies[0].files[0]
    assert pointer.state == "lfs_pointer" and pointer.size < 1024
    assert pointer.blob.startswith(f"{CHECKOUT}/pretrained/models--ASLP-lab--DiffRhythm-1_2/blobs/")
    vae = report.facts.models.weight("vae")
    assert not vae.copies and len(vae.incomplete) == 1 and vae.incomplete[0].endswith(".incomplete")

    cfm_finding = finding(report, "models.cfm")
    assert cfm_finding.status.value == "fail" and "git-lfs pointer" in cfm_finding.title
    assert cfm_finding.fix == "models.paths"
    vae_finding = finding(report, "models.vae")
    assert vae_finding.status.value == "fail" and "interrupted download" in vae_finding.title
    assert f"hf download ASLP-lab/DiffRhythm-vae vae_model.pt --cache-dir {CHECKOUT}/pretrained" in vae_finding.detail


def complete_install(root: Path, checkout: str = CHECKOUT, with_full: bool = False) -> None:
    """Every weight in upstream's ./pretrained cache layout, and the checkout's large data files."""
    base = root / checkout.lstrip("/")
    for item in assets()["checkout_files"]:
        if not (base / item["path"]).exists():
            sparse(base / item["path"], item["min_bytes"])
    roles = tuple(r.id for r in family().weights if with_full or r.id != "cfm_full")
    family_weights(base / "pretrained", roles, full_size=True)


def test_a_complete_checkout_made_of_small_and_sparse_files(tmp_path):
    root = build_root(tmp_path / "m", "no_gpu", at={"checkout": CHECKOUT})
    complete_install(root)
    report = checkup(root, make_venv(tmp_path / "venv", None))

    for check_id in ("models.checkout", "models.cfm", "models.vae", "models.muq", "models.assets", "platform.drvfs_models"):
        assert status(report, check_id) == "ok", finding(report, check_id)
    assert "usable: base (up to 95 s)" in finding(report, "models.cfm").title
    assert "Not usable: full" in finding(report, "models.cfm").detail
    offline = finding(report, "hf.offline")
    assert offline.status.value == "warn" and offline.fix == "hf.offline"
    assert status(report, "models.integrity") == "skip"

    offline_report = checkup(root, make_venv(tmp_path / "venv2", None), env={"HF_HUB_OFFLINE": "1"})
    assert status(offline_report, "hf.offline") == "ok"


def test_the_full_model_is_reported_usable_when_present(tmp_path):
    root = build_root(tmp_path / "m", "no_gpu", at={"checkout": CHECKOUT})
    complete_install(root, with_full=True)
    report = checkup(root, make_venv(tmp_path / "venv", None))
    assert "usable: base (up to 95 s), full (96-285 s)" in finding(report, "models.cfm").title


def test_the_partial_upstream_copy_lacks_its_g2p_data(tmp_path):
    """The real upstream checkout on this machine has its >= 4 MiB files emptied (DIFFRHYTHM.md)."""
    upstream = Path("/tmp/DiffRhythm")
    if not (upstream / "model" / "cfm.py").exists():
        import pytest

        pytest.skip("no upstream checkout at /tmp/DiffRhythm on this machine")
    report = checkup(Path("/"), make_venv(tmp_path / "venv", None), diffrhythm=str(upstream))
    assets_finding = finding(report, "models.assets")
    assert assets_finding.status.value == "fail"
    assert "chinese_lexicon.txt: empty (0 bytes)" in assets_finding.title
    assert "poly_bert_model.onnx: empty (0 bytes)" in assets_finding.title


def test_deep_hashes_blobs_against_their_names_and_caches_the_result(tmp_path):
    root = build_root(tmp_path / "m", "no_gpu", at={"checkout": CHECKOUT})
    repo = root / CHECKOUT.lstrip("/") / "pretrained" / "models--ASLP-lab--DiffRhythm-vae"
    good, bad = b"good vae bytes", b"swapped bytes"
    for name, content in (("vae_model.pt", good),):
        blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
        blob.parent.mkdir(parents=True)
        blob.write_bytes(content)
        (repo / "snapshots" / "r1").mkdir(parents=True)
        (repo / "snapshots" / "r1" / name).symlink_to(f"../../blobs/{blob.name}")
    cfm_repo = root / CHECKOUT.lstrip("/") / "pretrained" / "models--ASLP-lab--DiffRhythm-1_2"
    wrong = cfm_repo / "blobs" / hashlib.sha256(b"what was published").hexdigest()
    wrong.parent.mkdir(parents=True)
    wrong.write_bytes(bad)
    (cfm_repo / "snapshots" / "r1").mkdir(parents=True)
    (cfm_repo / "snapshots" / "r1" / "cfm_model.pt").symlink_to(f"../../blobs/{wrong.name}")
    cache_home = tmp_path / "cache"

    report = checkup(root, make_venv(tmp_path / "venv", None), env={"XDG_CACHE_HOME": str(cache_home)}, deep=True)
    by_blob = {Path(c.path).name: c.ok for c in report.facts.integrity}
    assert by_blob == {hashlib.sha256(good).hexdigest(): True, wrong.name: False}
    integrity = finding(report, "models.integrity")
    assert integrity.status.value == "fail" and wrong.name in integrity.title
    cached = json.loads((cache_home / "drdoctor" / "sha256.json").read_text())  # the runner's cache too
    assert sorted(v["sha256"] for v in cached.values()) == sorted([hashlib.sha256(good).hexdigest(),
                                                                   hashlib.sha256(bad).hexdigest()])


def test_deep_rehashes_a_blob_changed_in_place_with_its_size_and_mtime_kept(tmp_path):
    # Before: the cache key was (path, size, mtime), so this corruption was reported ok on the second run.
    root = build_root(tmp_path / "m", "no_gpu", at={"checkout": CHECKOUT})
    links = family_weights(root / CHECKOUT.lstrip("/") / "pretrained", ("vae",))
    blob = links["vae/vae_model.pt"].resolve()
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    first = checkup(root, make_venv(tmp_path / "venv", None), env=env, deep=True)
    assert status(first, "models.integrity") == "ok"
    stat = blob.stat()
    with blob.open("r+b") as handle:
        handle.seek(40)
        handle.write(b"X")  # bit rot: same size
    os.utime(blob, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the old mtime put back
    again = checkup(root, make_venv(tmp_path / "venv2", None), env=env, deep=True)
    integrity = finding(again, "models.integrity")
    assert integrity.status.value == "fail" and blob.name in integrity.title


def test_weights_in_a_plain_models_folder_and_a_configured_path(tmp_path):
    root = build_root(tmp_path / "m", "no_gpu")
    weights = root / "data/weights"
    sized(weights / "DiffRhythm-1_2" / "cfm_model.pt", torch_zip(), assets()["weights"][0]["min_bytes"])
    sparse(weights / "vae_model.pt", 1000)  # zeros: no format at all
    sized(root / "srv/vae.pt", torchscript(), 50_000_000)
    config = {"models": {"dir": "/data/weights", "vae": "/srv/vae.pt"}}
    report = checkup(root, make_venv(tmp_path / "venv", None), config=config)
    assert finding(report, "models.cfm").status.value == "ok"
    assert "/data/weights/DiffRhythm-1_2/cfm_model.pt" in finding(report, "models.cfm").title
    vae = finding(report, "models.vae")
    # The configured copy is good and is listed first; the truncated one is named so it can be removed.
    assert vae.status.value == "warn" and vae.title.index("/srv/vae.pt") < vae.title.index("/data/weights/vae_model.pt")
    assert "/data/weights/vae_model.pt: not a format any loader reads" in vae.title
    # a --models folder on the command line replaces the config's [models] table, as `drdoctor generate` does
    flagged = checkup(root, make_venv(tmp_path / "venv2", None), models="/data/weights", config=config)
    assert finding(flagged, "models.vae").status.value == "fail" and "/srv/vae.pt" not in finding(flagged, "models.vae").title


@pytest.mark.parametrize("is_git", [True, False])
def test_broken_checkout_files_get_the_runners_restore_remedy_not_git_lfs(tmp_path, is_git):
    """Upstream has no git-lfs: a checkout file left as a pointer or emptied is restored from git's history
    (named file by file) or by a new clone, the same remedy the runner gives (runner.checkout_import)."""
    root = build_root(tmp_path / "m", "no_gpu", at={"checkout": CHECKOUT})
    folder = root / CHECKOUT.lstrip("/")
    (folder / "g2p/sources").mkdir(parents=True, exist_ok=True)
    (folder / "g2p/sources/chinese_lexicon.txt").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 5000000\n")
    if is_git:
        (folder / ".git").mkdir()
    report = checkup(root, make_venv(tmp_path / "venv", None))
    found = finding(report, "models.assets")
    assert found.status.value == "fail" and "chinese_lexicon.txt" in found.title
    assert "git lfs" not in found.detail
    if is_git:
        assert f"git -C {CHECKOUT} checkout HEAD -- g2p/sources/chinese_lexicon.txt" in found.detail
    else:
        assert "is not a git clone" in found.detail and "git clone https://github.com/ASLP-lab/DiffRhythm" in found.detail

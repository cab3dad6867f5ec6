"""`drdoctor fix` end to end on a broken machine in a folder: dry-run, consent, apply, verify, idempotence."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from broken_machine import CHECKOUT, HF_CACHE, MODELS, NVML, WSLCONFIG, build
from doctor.cli import main
from fixtools import tree_snapshot


@pytest.fixture(scope="module")
def machine(venv_template):
    import tempfile
    from pathlib import Path

    base = Path(tempfile.mkdtemp(prefix="drdoctor-fixes-machine-"))
    yield build(base, venv_template)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def env(monkeypatch, machine):
    config = machine["root"].parent / "config.toml"
    monkeypatch.setenv("DRDOCTOR_CONFIG", str(config))
    monkeypatch.setenv("HF_HUB_CACHE", HF_CACHE)
    monkeypatch.setenv("DRDOCTOR_PIP_FIND_LINKS", str(machine["wheels"]))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return config


def _flags(machine, *more):
    return ["--root", str(machine["root"]), "--python", str(machine["python"]), "--diffrhythm", CHECKOUT,
            "--nvml-snapshot", str(machine["nvml"]), "--models", MODELS, *more]


def test_unknown_id_lists_the_known_ones(capsys):
    assert main(["fix", "torch.reinstal"]) == 2
    err = capsys.readouterr().err
    assert "unknown fix id 'torch.reinstal'" in err and "torch.reinstall" in err and "container.use" in err


def test_the_whole_story(machine, env, capsys):
    root, config = machine["root"], env
    watched = [root, machine["venv"]]
    before = {str(w): tree_snapshot(w) for w in watched}

    # --dry-run: every plan printed, commands as argument lists and edits as diffs; nothing changes
    assert main(["fix", "--dry-run", *_flags(machine)]) == 0
    out = capsys.readouterr().out
    for fix_id in ("torch.reinstall", "transformers.pin", "wsl.memory", "models.paths", "hf.offline"):
        assert f"== {fix_id}:" in out
    assert f"run: ['{machine['python']}', '-m', 'pip', 'install', 'transformers==4.53.3', '--no-index'," in out
    assert "+memory=10GB\u240d" in out and "-swap=2GB\u240d" in out
    assert "-torchaudio==2.6.0" in out
    assert {str(w): tree_snapshot(w) for w in watched} == before and not config.exists()

    # --dry-run --json: the same plans as data
    assert main(["fix", "--dry-run", "--json", *_flags(machine)]) == 0
    plans = {p["fix"]: p for p in json.loads(capsys.readouterr().out)["plans"]}
    assert plans["wsl.memory"]["needs_restart"] and plans["wsl.memory"]["steps"][0]["kind"] == "edit"
    assert plans["transformers.pin"]["steps"][0]["argv"][-4:] == ["transformers==4.53.3", "--no-index", "--find-links", str(machine["wheels"])]

    # no terminal and no --yes: refuse, change nothing
    assert main(["fix", *_flags(machine)]) == 2
    assert "--yes" in capsys.readouterr().err
    assert {str(w): tree_snapshot(w) for w in watched} == before

    # --yes: applied, verified, the checks judged again
    assert main(["fix", "--yes", *_flags(machine)]) == 0
    out = capsys.readouterr().out
    assert "check torch.build: fail -> ok" in out
    assert "check pkg.transformers: fail -> ok" in out
    assert "check mem.wsl_limit: warn -> ok" in out
    assert "check hf.offline: warn -> ok" in out
    assert out.count("  verified:") == 5 and "not verified" not in out
    assert "restart needed" in out and "wsl.exe --shutdown" in out
    backups = out.split("backups:\n", 1)[1].split()
    assert len(backups) == 4 and all(".drdoctor-" in b and b.endswith(".bak") for b in backups)
    assert "check models.vae: warn -> ok" in out
    wslconfig = root / "mnt/c/Users/alice/.wslconfig"
    assert wslconfig.read_bytes() == (
        WSLCONFIG.replace("swap=2GB\r\n", "swap=9GB\r\n")
        .replace("localhostForwarding=true\r\n", "localhostForwarding=true\r\nmemory=10GB\r\n").encode())

    # again: nothing to do, and it says so
    after = {str(w): tree_snapshot(w) for w in watched}
    config_text = config.read_text()
    for ids in ([], ["wsl.memory", "transformers.pin", "torch.reinstall", "hf.offline"]):
        assert main(["fix", "--yes", *_flags(machine), *ids]) == 0
        out = capsys.readouterr().out
        assert "applying" not in out and "backups:" not in out
        assert ("already done" in out) if ids else ("nothing to fix" in out)
    assert {str(w): tree_snapshot(w) for w in watched} == after and config.read_text() == config_text

    # and the checkup agrees
    assert main(["check", *_flags(machine)]) == 0


def test_a_failing_install_rolls_back_the_requirements_edit(machine, env, capsys, tmp_path):
    # The torch wheel this driver needs is not in the wheel folder: step 2 (pip) fails after step 1
    # (the checkout's requirements.txt) was edited. The edit is undone; exit status 1.
    from broken_machine import build_root

    root = build_root(tmp_path / "root")
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    requirements = root / CHECKOUT.lstrip("/") / "requirements.txt"
    original = requirements.read_bytes()
    subprocess.run([str(machine["python"]), "-m", "pip", "install", "-q", "--no-index", "--find-links",
                    str(machine["wheels"]), "torch==2.13.0+cpu"], check=True)
    flags = ["--root", str(root), "--python", str(machine["python"]), "--diffrhythm", CHECKOUT,
             "--nvml-snapshot", str(machine["nvml"]), "--find-links", str(empty)]
    assert main(["fix", "--yes", "torch.reinstall", *flags]) == 1
    out = capsys.readouterr().out
    assert "FAILED: step 2/2" in out and "rolled back" in out
    assert requirements.read_bytes() == original
    assert list(requirements.parent.glob("requirements.txt.drdoctor-*.bak"))  # the backup stays, listed
    assert "backups:" in out


@pytest.mark.parametrize("argv,message", [
    (["--json"], "use it with --dry-run"),
    (["--ram", "lots"], "--ram 'lots'"),
    (["--driver-cuda", "twelve"], "not a version like 12.4"),
    (["--python", "/nonexistent/python"], "no such file"),
])
def test_bad_arguments_exit_2(argv, message, capsys):
    assert main(["fix", *argv]) == 2
    assert message in capsys.readouterr().err


def test_muq_beside_torch_2_13_check_and_fix_agree(venv, tmp_path, monkeypatch, capsys):
    # The style encoder's package imports torchaudio, which stops at torch 2.11: the check fails, the fix
    # installs torch 2.11 with its torchaudio, the check passes, and neither points at the other again.
    from broken_machine import build_root

    monkeypatch.setenv("DRDOCTOR_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("DRDOCTOR_PIP_FIND_LINKS", str(venv.wheelhouse))
    root = build_root(tmp_path / "root")
    nvml = tmp_path / "nvml.json"
    nvml.write_text(json.dumps(NVML))  # CUDA 12.6, an RTX 3060 (sm_86)
    venv.install("torch==2.13.0+cu126", "muq==0.1.0", "transformers==4.53.3")
    flags = ["--root", str(root), "--python", str(venv.python), "--diffrhythm", CHECKOUT, "--nvml-snapshot", str(nvml)]

    assert main(["check", "--json", *flags]) == 1
    audio = next(f for f in json.loads(capsys.readouterr().out)["findings"] if f["id"] == "torch.torchaudio_pair")
    assert audio["status"] == "fail" and audio["fix"] == "torch.reinstall" and "muq 0.1.0" in audio["title"]

    assert main(["fix", "--yes", "torch.reinstall", *flags]) == 0
    out = capsys.readouterr().out
    assert "'torch==2.11.0+cu126', 'torchaudio==2.11.0+cu126'" in out
    assert "check torch.torchaudio_pair: fail -> ok" in out and "  verified:" in out
    assert "-torch==2.6.0" in out and "+torchaudio==2.11.0" in out  # the checkout's pins follow

    assert main(["fix", "--dry-run", "--json", *flags]) == 0
    assert "torch.reinstall" not in [p["fix"] for p in json.loads(capsys.readouterr().out)["plans"]]

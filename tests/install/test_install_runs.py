"""`drdoctor install` on the light test family: a fresh install, the second run, --dry-run, --repair, adoption."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import tomllib
from conftest import drdoctor, git, install_args

from doctor.units import gib


def tree(root: Path) -> dict[str, tuple]:
    """Every path under root with its kind, size and mtime (symlinks by their target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (os.readlink(p) if p.is_symlink() else None, st.st_size if p.is_file() else 0,
                                             st.st_mtime_ns)
    return out


def config(env) -> dict:
    return tomllib.loads(Path(env["DRDOCTOR_CONFIG"]).read_text(encoding="utf-8"))


def test_fresh_install_then_second_run_does_nothing(light, wheelhouse, hub, tmp_path):
    family, env = light
    events_file = tmp_path / "events.ndjson"
    first = drdoctor(env, *install_args(wheelhouse, "--events", str(events_file)))
    assert first.returncode == 0, first.stdout + first.stderr
    # live progress: bytes, rate and ETA on the terminal, and the same as events for the TUI
    vae = gib(len(family.files[("ASLP-lab/DiffRhythm-vae", "vae_model.pt")]))
    assert f"vae_model.pt: {vae} / {vae} (100.0%)" in first.stdout and "/s, ETA" in first.stdout
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    finished = {(e["repo"], e["file"]) for e in events if e["type"] == "download_finished"}
    assert finished == set(family.files)
    progress = [e for e in events if e["type"] == "download_progress"]
    assert progress and all({"done", "total", "rate", "eta", "v", "t"} <= set(e) for e in progress)
    data_root = tmp_path / "data" / "diffrhythm-1.2"
    # the checkout is the pinned commit
    assert git("rev-parse", "HEAD", cwd=data_root / "checkout") == family.data["upstream"]["commit"]
    # the environment imports the locked packages, through the env symlink
    python = data_root / "env" / "bin" / "python"
    assert (data_root / "env").is_symlink()
    done = subprocess.run([str(python), "-c", "import ddtiny_beta; print(ddtiny_beta.VALUE, ddtiny_beta.ALPHA)"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip() == "beta 1.0 alpha 1.0", done.stderr
    # every weight file is in the HF cache layout, its blob named by and equal to its sha256
    cache = tmp_path / "hf"
    for (repo, name), content in family.files.items():
        snapshot = next((cache / ("models--" + repo.replace("/", "--")) / "snapshots").iterdir())
        assert (snapshot / name).read_bytes() == content
        assert (snapshot / name).resolve().name == hashlib.sha256(content).hexdigest()
    # the config records checkout, python and models; HF_HUB_OFFLINE from then on
    recorded = config(env)
    assert recorded["diffrhythm"] == {"root": str(data_root / "checkout"), "python": str(python)}
    assert recorded["models"] == {"dir": str(cache)} and recorded["run"] == {"hf_hub_offline": True}
    gets = [entry for entry in hub.log if entry[0] == "GET"]
    assert len(gets) == len(family.files)

    before = tree(tmp_path / "data"), tree(cache)
    second = drdoctor(env, *install_args(wheelhouse))
    assert second.returncode == 0, second.stdout + second.stderr
    assert [entry for entry in hub.log if entry[0] == "GET"] == gets  # nothing downloaded
    after = tree(tmp_path / "data"), tree(cache)
    changed = [k for i in (0, 1) for k in set(before[i]) | set(after[i]) if before[i].get(k) != after[i].get(k)]
    assert changed == []  # nothing installed or rewritten
    for part in ("install.checkout", "install.environment", "install.weights", "install.config"):
        assert f"{part}" in second.stdout
    assert second.stdout.count("already done") >= 4, second.stdout


def test_dry_run_changes_nothing(light, wheelhouse, hub, tmp_path):
    family, env = light
    before = tree(tmp_path)
    done = drdoctor(env, *install_args(wheelhouse, "--dry-run"))
    assert done.returncode == 0, done.stderr
    assert tree(tmp_path) == before
    assert not [e for e in hub.log if e[0] == "GET"]
    text = done.stdout
    commit = family.data["upstream"]["commit"]
    assert f"at {commit}" in text and str(tmp_path / "data" / "diffrhythm-1.2" / "checkout") in text
    assert "doctor.install.environment" in text and "ddtiny-alpha==1.0" in text and "ddtiny-beta==1.0" in text
    for (repo, name), content in family.files.items():
        assert f"{repo} {name}  {len(content)} B  to download" in text
    assert "space: " in text and "free in" in text
    assert "+hf_hub_offline = true" in text


def test_repair_replaces_only_the_broken_blob(light, wheelhouse, hub, tmp_path):
    family, env = light
    assert drdoctor(env, *install_args(wheelhouse)).returncode == 0
    repo, name = "ASLP-lab/DiffRhythm-vae", "vae_model.pt"
    blob = family.blob(tmp_path / "hf", repo, name)
    damaged = bytearray(blob.read_bytes())
    damaged[0] ^= 0xFF
    blob.write_bytes(bytes(damaged))  # same size, same name: only hashing finds it
    gets_before = {key: len(hub.gets(*key)) for key in family.files}
    plain = drdoctor(env, *install_args(wheelhouse))
    assert plain.returncode == 0 and len(hub.gets(repo, name)) == gets_before[(repo, name)]  # trusts name + size

    repaired = drdoctor(env, *install_args(wheelhouse, "--repair"))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert blob.read_bytes() == family.files[(repo, name)]
    assert len(hub.gets(repo, name)) == gets_before[(repo, name)] + 1
    assert all(len(hub.gets(*key)) == gets_before[key] for key in family.files if key != (repo, name))
    assert "environment re-checked: everything imports" in repaired.stdout


def test_adopted_checkout_is_never_modified(light, wheelhouse, upstream, tmp_path):
    _, env = light
    mine = tmp_path / "my-DiffRhythm"
    git("clone", "-q", str(upstream[0]), str(mine), cwd=tmp_path)
    before = tree(mine)
    done = drdoctor(env, *install_args(wheelhouse, "--diffrhythm", str(mine)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree(mine) == before
    assert "adopting" in done.stdout and "read-only" in done.stdout
    assert config(env)["diffrhythm"]["root"] == str(mine)
    assert not (tmp_path / "data" / "diffrhythm-1.2" / "checkout").exists()


def test_big_downloads_ask_first_and_no_terminal_means_no(light, wheelhouse, hub, tmp_path):
    _, env = light
    # package sources that are not a local wheel folder: building the environment counts as a big download
    done = drdoctor(env, "install", "--no-check", "--torch-variant", "cpu", "--index-url", f"{hub.url}/simple")
    assert done.returncode == 2, done.stdout
    assert "needs your consent: install.environment downloads over 1 GB" in done.stdout
    assert "run again with --yes" in done.stdout
    assert not (tmp_path / "data" / "diffrhythm-1.2" / "env").exists()  # nothing was built
    recorded = config(env)
    assert "python" not in recorded["diffrhythm"]  # and nothing recorded for it
    assert recorded["models"] == {"dir": str(tmp_path / "hf")}  # the small weights needed no consent


def test_offline_route_a_copied_cache(light, wheelhouse, hub, tmp_path):
    _, env = light
    assert drdoctor(env, *install_args(wheelhouse)).returncode == 0
    copied = tmp_path / "copied-cache"
    shutil.copytree(tmp_path / "hf", copied, symlinks=True)
    gets = len([e for e in hub.log if e[0] == "GET"])
    offline = {**env, "HF_ENDPOINT": "http://127.0.0.1:9"}  # no Hub at all
    done = drdoctor(offline, *install_args(wheelhouse, "--models", str(copied)))
    assert done.returncode == 0, done.stdout
    assert len([e for e in hub.log if e[0] == "GET"]) == gets
    assert config(env)["models"] == {"dir": str(copied)}


def test_a_changed_checkout_is_refused_then_repaired_aside(light, wheelhouse, tmp_path):
    family, env = light
    assert drdoctor(env, *install_args(wheelhouse)).returncode == 0
    checkout = tmp_path / "data" / "diffrhythm-1.2" / "checkout"
    (checkout / "model" / "dit.py").write_text("broken = True\n", encoding="utf-8")
    plain = drdoctor(env, *install_args(wheelhouse))
    assert plain.returncode == 3, plain.stdout
    assert "1 tracked file(s) changed: model/dit.py" in plain.stdout and "--repair" in plain.stdout
    repaired = drdoctor(env, *install_args(wheelhouse, "--repair"))
    assert repaired.returncode == 0, repaired.stdout
    assert git("status", "--porcelain", cwd=checkout) == ""
    assert git("rev-parse", "HEAD", cwd=checkout) == family.data["upstream"]["commit"]
    aside = [p for p in checkout.parent.iterdir() if p.name.startswith("checkout.drdoctor-")]
    assert len(aside) == 1 and (aside[0] / "model" / "dit.py").read_text() == "broken = True\n"  # kept, not deleted

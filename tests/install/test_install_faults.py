"""What goes wrong during an install: a killed download, lying bytes, no Hub, no source host, no disk, a
package that fails. Each keeps what was done, says what happened, and records nothing half-done."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomllib
from conftest import (
    REPO,
    build_wheel,
    clean_env,
    drdoctor,
    install_args,
    make_family,
    weight_bytes,
)

VAE = ("ASLP-lab/DiffRhythm-vae", "vae_model.pt")
CFM = ("ASLP-lab/DiffRhythm-1_2", "cfm_model.pt")


def recorded(env) -> dict:
    path = Path(env["DRDOCTOR_CONFIG"])
    return tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def test_kill_9_mid_download_then_rerun_continues_the_partial(tmp_path, upstream, hub, wheelhouse):
    size = 6 << 20
    family = make_family(tmp_path, upstream, hub, inputs="ddtiny-beta\n", import_check=["ddtiny_beta"],
                         checkout_import=False, torch=None, index_url=None, find_links=[str(wheelhouse)],
                         files=weight_bytes(tmp_path, real_networks=False, big=size))
    env = clean_env(tmp_path, hub.url)
    hub.rate = 2 << 20  # 2 MiB/s: the VAE file takes 3 s
    blobs = tmp_path / "hf" / "models--ASLP-lab--DiffRhythm-vae" / "blobs"
    sha = hashlib.sha256(family.files[VAE]).hexdigest()
    proc = subprocess.Popen([sys.executable, "-m", "doctor", *install_args(wheelhouse)], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    partial_size = 0
    while time.monotonic() < deadline:
        partial = list(blobs.glob(f"{sha}*.incomplete")) if blobs.is_dir() else []
        if partial and partial[0].stat().st_size > (1 << 20):
            partial_size = partial[0].stat().st_size
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the install and its step processes, as a closed terminal or the OOM killer
    proc.wait(timeout=30)
    assert partial_size > 0, "the download never started"
    others = [key for key in family.files if key != VAE]
    cfm_gets = len(hub.gets(*CFM))
    assert cfm_gets == 1 and not (blobs / sha).exists()
    # huggingface_hub 2.x would name its own partial <blob>.<8 hex>.incomplete: continue that one too
    ours = next(blobs.glob(f"{sha}*.incomplete"))
    os.rename(ours, blobs / f"{sha}.0123abcd.incomplete")
    kept = (blobs / f"{sha}.0123abcd.incomplete").stat().st_size

    hub.rate = None
    again = drdoctor(env, *install_args(wheelhouse))
    assert again.returncode == 0, again.stdout + again.stderr
    assert all(len(hub.gets(*key)) == 1 for key in others)  # the finished file is not fetched again
    ranges = hub.gets(*VAE)
    assert ranges[0] == "bytes=0-" and ranges[-1] == f"bytes={kept}-", ranges
    assert "continuing the partial download at" in again.stdout
    assert (blobs / sha).read_bytes() == family.files[VAE]
    assert not list(blobs.glob("*.incomplete"))


def test_bytes_that_do_not_match_are_refused_and_nothing_is_recorded(light, wheelhouse, hub, tmp_path):
    family, env = light
    good = family.files[VAE]
    hub.lie[VAE] = bytes(b ^ 0x55 for b in good)  # the same length, other bytes, under the good ETag
    done = drdoctor(env, *install_args(wheelhouse))
    assert done.returncode == 3, done.stdout
    assert "ASLP-lab/DiffRhythm-vae/vae_model.pt: the downloaded bytes do not match" in done.stdout
    repo_dir = tmp_path / "hf" / "models--ASLP-lab--DiffRhythm-vae"
    assert not list((repo_dir / "blobs").iterdir())       # no blob, no partial
    assert not (repo_dir / "snapshots").exists() and not (repo_dir / "refs").exists()
    config = recorded(env)
    assert "models" not in config and "run" not in config  # the weights are not recorded as installed
    assert config["diffrhythm"]["python"]  # what did work is kept and recorded


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_an_offline_setting_in_the_shell_does_not_stop_the_install_downloading(light, wheelhouse, variable):
    family, env = light  # huggingface_hub reads either variable as "offline"; runs stay offline, installing not
    done = drdoctor({**env, variable: "1"}, *install_args(wheelhouse))
    assert done.returncode == 0, done.stdout
    assert "offline mode is enabled" not in done.stdout
    assert recorded(env)["models"]


def test_hub_unreachable_says_so_and_records_nothing(light, wheelhouse, tmp_path):
    _, env = light
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**env, "HF_ENDPOINT": f"http://127.0.0.1:{port}"}
    done = drdoctor(env, *install_args(wheelhouse))
    assert done.returncode == 3, done.stdout
    assert f"the Hugging Face Hub (HF_ENDPOINT) cannot be reached: http://127.0.0.1:{port}" in done.stdout
    assert "--models DIR" in done.stdout and "container" in done.stdout  # the offline routes
    assert not (tmp_path / "hf").exists() or not any((tmp_path / "hf").iterdir())
    config = recorded(env)
    assert "models" not in config and "run" not in config
    assert (tmp_path / "data" / "diffrhythm-1.2" / "env" / "bin" / "python").exists()  # kept what it could do


def test_source_host_unreachable_keeps_the_weights(tmp_path, upstream, hub, wheelhouse):
    gone = (tmp_path / "no-such-upstream", upstream[1])
    make_family(tmp_path, gone, hub, inputs="ddtiny-beta\n", import_check=["ddtiny_beta"], checkout_import=True,
                torch=None, index_url=None, find_links=[str(wheelhouse)], files=weight_bytes(tmp_path, False))
    env = clean_env(tmp_path, hub.url)
    done = drdoctor(env, *install_args(wheelhouse))
    assert done.returncode == 3, done.stdout
    assert f"the source host {tmp_path / 'no-such-upstream'} cannot be reached" in done.stdout
    assert "--diffrhythm DIR" in done.stdout
    assert "needs the checkout first" in done.stdout
    assert recorded(env)["models"] == {"dir": str(tmp_path / "hf")}  # the weights were still fetched
    assert not (tmp_path / "data" / "diffrhythm-1.2" / "checkout").exists()


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True, check=False)


@pytest.mark.parametrize("known_sizes", [True, False], ids=["sizes-in-family", "sizes-from-the-hub"])
def test_too_little_disk_is_refused_before_downloading(tmp_path, upstream, hub, wheelhouse, tiny_disk, known_sizes):
    make_family(tmp_path, upstream, hub, inputs="ddtiny-beta\n", import_check=["ddtiny_beta"], checkout_import=False,
                torch=None, index_url=None, find_links=[str(wheelhouse)],
                files=weight_bytes(tmp_path, False, big=4 << 20), known_sizes=known_sizes)
    env = clean_env(tmp_path, hub.url)
    done = drdoctor(env, *install_args(wheelhouse, "--models", str(tiny_disk)))
    assert done.returncode == 3, done.stdout
    assert ("too little space" if known_sizes else "refused before downloading") in done.stdout
    assert not [entry for entry in hub.log if entry[0] == "GET"]
    assert not any(p.is_file() for p in tiny_disk.rglob("*") if "blobs" in p.parts)


def test_a_package_that_fails_to_install_leaves_the_previous_environment(light, wheelhouse, tmp_path):
    family, env = light
    assert drdoctor(env, *install_args(wheelhouse)).returncode == 0
    env_link = tmp_path / "data" / "diffrhythm-1.2" / "env"
    before = env_link.resolve()
    # a new lock asks for ddtiny-alpha 2.0, whose wheel is then swapped for other bytes: its hash no longer matches
    newer = tmp_path / "newer-wheels"
    newer.mkdir()
    for wheel in wheelhouse.iterdir():
        (newer / wheel.name).write_bytes(wheel.read_bytes())
    build_wheel(newer, "ddtiny-alpha", "2.0", "VALUE = 'alpha 2.0'\n")
    inputs = tmp_path / "families" / "test-env" / "requirements.in"
    inputs.write_text("ddtiny-beta\nddtiny-alpha==2.0\n", encoding="utf-8")
    lock = subprocess.run([sys.executable, "-m", "doctor.install.lock", str(family.path), "--find-links", str(newer)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert lock.returncode == 0, lock.stdout + lock.stderr
    tampered = newer / "ddtiny_alpha-2.0-py3-none-any.whl"
    build_wheel(tmp_path, "ddtiny-alpha", "2.0", "VALUE = 'tampered'\n").replace(tampered)

    # a cache of its own, so uv meets the tampered file rather than the copy it saw while locking
    done = drdoctor({**env, "UV_CACHE_DIR": str(tmp_path / "uv-cache")}, *install_args(newer))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ddtiny-alpha" in done.stdout and "FAILED" in done.stdout
    assert "the previous environment is untouched" in done.stdout
    assert env_link.resolve() == before
    assert [p.name for p in (env_link.parent / "envs").iterdir()] == [before.name]  # the new folder is gone
    still = subprocess.run([str(env_link / "bin" / "python"), "-c", "import ddtiny_beta; print(ddtiny_beta.ALPHA)"],
                           capture_output=True, text=True, timeout=60)
    assert still.stdout.strip() == "alpha 1.0", still.stderr


def test_torch_index_unreachable_is_named(light, wheelhouse, tmp_path):
    family, env = light
    data = json.loads(family.path.read_text(encoding="utf-8"))
    data["environment"]["variants"]["cpu"]["index"] = "http://127.0.0.1:9/whl/cpu"  # where its torch would come from
    family.path.write_text(json.dumps(data), encoding="utf-8")
    done = drdoctor(env, "install", "--yes", "--no-check", "--torch-variant", "cpu")
    assert done.returncode == 3, done.stdout
    assert "a package index cannot be reached: " in done.stdout and "http://127.0.0.1:9/whl/cpu" in done.stdout
    assert "--find-links DIR" in done.stdout  # the offline route
    assert not (tmp_path / "data" / "diffrhythm-1.2" / "env").exists()
    assert (tmp_path / "data" / "diffrhythm-1.2" / "checkout").is_dir()  # the rest went ahead

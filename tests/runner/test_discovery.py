"""One discovery for `drdoctor check`, `drdoctor generate` and the TUI (doctor/discovery.py), with real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from _checkout_fixture import build_checkout
from weight_fixtures import style_models

from doctor.discovery import checkout_candidates, discover
from doctor.tui import launching
from doctor.tui.options import TuiOptions
from runner.family import install_layout

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRDOCTOR_", "XDG_", "HF_", "DIFFRHYTHM"))}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
               XDG_DATA_HOME=str(tmp_path / "xdg-data"), PYTHONPATH=str(REPO))
    return env


def test_check_and_generate_find_the_same_checkout_without_flags(tmp_path):
    # Before: check found ~/DiffRhythm, then generate said "no model: give --diffrhythm DIR".
    env = _env(tmp_path)
    checkout = Path(env["HOME"]) / "DiffRhythm"
    build_checkout(checkout)
    style_models(checkout / "pretrained")
    vector = tmp_path / "style.npy"
    np.save(vector, np.random.default_rng(0).standard_normal((1, 512)).astype(np.float32))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    check = subprocess.run([sys.executable, "-m", "doctor", "check", "--json"], capture_output=True, text=True,
                           check=False, env=env, cwd=elsewhere, timeout=120)
    findings = {f["id"]: f for f in json.loads(check.stdout)["findings"]}
    assert findings["models.checkout"]["status"] == "ok" and str(checkout) in findings["models.checkout"]["title"]
    for check_id in ("models.cfm", "models.vae", "models.muq"):
        assert findings[check_id]["status"] == "ok", findings[check_id]

    out = tmp_path / "song.wav"
    run = subprocess.run([sys.executable, "-m", "doctor", "generate", "--json", "--style-embedding", str(vector),
                          "--steps", "2", "--out", str(out)], capture_output=True, text=True, check=False, env=env, cwd=elsewhere,
                         timeout=300)
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    started = next(e for e in events if e["type"] == "run_started")
    assert started["request"]["diffrhythm"] == str(checkout)
    assert run.returncode == 0, run.stderr[-2000:]
    assert out.read_bytes()[:4] == b"RIFF"


def test_generate_without_any_checkout_names_the_places_and_drdoctor_install(tmp_path):
    env = _env(tmp_path)
    run = subprocess.run([sys.executable, "-m", "doctor", "generate", "--style", "x"], capture_output=True, text=True,
                         check=False, env=env, cwd=tmp_path, timeout=60)
    assert run.returncode == 3
    assert "no DiffRhythm checkout found" in run.stderr and "drdoctor install" in run.stderr
    assert str(install_layout(env=env).checkout) in run.stderr and f"{env['HOME']}/DiffRhythm" in run.stderr


def test_the_order_flags_config_env_install_usual_places_cwd(tmp_path, monkeypatch):
    env = _env(tmp_path)
    monkeypatch.chdir(tmp_path)
    order = checkout_candidates(None, "/conf/DR", {**env, "DIFFRHYTHM_ROOT": "/env/DR"})
    sources = [source for _, source in order]
    assert sources[:3] == ["config [diffrhythm] root", "DIFFRHYTHM_ROOT", "drdoctor install"]
    assert sources[-1] == "current directory" and sources[3] == "usual place"
    assert order[2][0] == str(Path(env["XDG_DATA_HOME"]) / "drdoctor" / "diffrhythm-1.2" / "checkout")
    assert checkout_candidates("/flag/DR", "/conf/DR", env) == [("/flag/DR", "--diffrhythm")]


def test_the_installed_environment_is_the_interpreter_everyone_uses(tmp_path, monkeypatch):
    env = _env(tmp_path)
    for name in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(name, env[name])
    python = install_layout(env=env).python
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    target = discover(config={})
    assert (target.python, target.python_source) == (str(python), "drdoctor install")
    assert launching.python(TuiOptions()) == str(python)  # the TUI asks the same function
    assert discover(python="/x/python", config={}).python == "/x/python"
    assert discover(config={"diffrhythm": {"python": "/cfg/python"}}).python == "/cfg/python"

"""What a launched run sees: only the runner on its path (a built wheel, installed non-editable), and
HF_HUB_OFFLINE from the one rule (runner.hub_env) with the config honoured, through doctor.launch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from doctor.launch import RunnerProcess, runner_env

REPO = Path(__file__).resolve().parents[2]


def _site(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def _fake_numpy(venv: Path, who: str) -> None:
    package = _site(venv) / "numpy"
    package.mkdir()
    (package / "__init__.py").write_text(f"WHO = {who!r}\n")


def test_an_installed_wheel_puts_only_the_runner_on_the_path(tmp_path):
    # Before: PYTHONPATH was the package's parent, i.e. drdoctor's site-packages, so its numpy (or torch,
    # packaging, ...) shadowed the DiffRhythm environment's.
    source, wheels = tmp_path / "source", tmp_path / "wheels"  # built from a copy: no build/ left in the repo
    for part in ("doctor", "runner"):
        shutil.copytree(REPO / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(source)], check=True, timeout=300, capture_output=True)
    (wheel,) = wheels.glob("drdoctor-*.whl")
    doctor_venv, diffrhythm_venv = tmp_path / "drdoctor-venv", tmp_path / "diffrhythm-env"
    subprocess.run([sys.executable, "-m", "venv", str(doctor_venv)], check=True, timeout=300)
    subprocess.run([str(doctor_venv / "bin/python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, timeout=300)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(diffrhythm_venv)], check=True, timeout=300)
    _fake_numpy(doctor_venv, "drdoctor's own")
    _fake_numpy(diffrhythm_venv, "the DiffRhythm environment's")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DRDOCTOR_", "VIRTUAL_ENV"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), DRDOCTOR_CONFIG=str(tmp_path / "none.toml"))
    launched = subprocess.run(
        [str(doctor_venv / "bin/python"), "-c", "import json, doctor.launch as l; print(json.dumps(l.runner_env()))"],
        check=True, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    run_env = json.loads(launched.stdout)
    probe = textwrap.dedent("""
        import json, sys, numpy, runner
        try:
            import doctor
            doctor_seen = True
        except ImportError:
            doctor_seen = False
        try:
            import runner.family
            roles = [r.id for r in runner.family.family().weights]
        except ImportError:
            roles = None
        print(json.dumps({"numpy": numpy.WHO, "runner": runner.__file__, "path": sys.path, "doctor": doctor_seen,
                          "roles": roles}))
    """)
    seen = json.loads(subprocess.run([str(diffrhythm_venv / "bin/python"), "-c", probe], check=True,
                                     capture_output=True, text=True, env=run_env, cwd=tmp_path, timeout=60).stdout)
    assert seen["numpy"] == "the DiffRhythm environment's"
    assert not any(p.startswith(str(doctor_venv)) for p in seen["path"]), seen["path"]
    assert seen["runner"].startswith(str(tmp_path / "cache" / "drdoctor" / "runner-path"))
    assert seen["doctor"] is False  # the doctor (and its dependencies) stay out of the run
    assert "cfm" in seen["roles"] and "xlmr" in seen["roles"]  # the family data is found from there


def _print_offline(tmp_path: Path) -> Path:
    module = tmp_path / "mods" / "print_offline.py"
    module.parent.mkdir()
    module.write_text("import json, os\n"  # what the launched process was given
                      "print(json.dumps({k: os.environ.get(k) for k in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE')}))\n")
    return module.parent


@pytest.mark.parametrize(("config", "given", "expected"), [
    ({}, None, "1"),  # a run needs no network: offline unless told otherwise
    ({"run": {"hf_hub_offline": False}}, None, "0"),  # before: the config was read by nothing that launches a run
    ({"run": {"hf_hub_offline": True}}, None, "1"),
    ({"run": {"hf_hub_offline": False}}, "1", "1"),  # the user's own HF_HUB_OFFLINE wins
])
def test_every_launch_honours_the_offline_setting(tmp_path, monkeypatch, config, given, expected):
    from doctor.config import updated_text

    config_file = tmp_path / "config.toml"
    config_file.write_text(updated_text(config_file, config))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    base.update(DRDOCTOR_CONFIG=str(config_file), XDG_CACHE_HOME=str(tmp_path / "cache"),
                PYTHONPATH=str(_print_offline(tmp_path)))
    if given is not None:
        base["HF_HUB_OFFLINE"] = given
    monkeypatch.setattr(os, "environ", base)  # what a launcher inherits
    child = RunnerProcess(sys.executable, [], module="print_offline")  # the launch generate, the TUI, lyrics use
    lines = list(child.lines())
    assert child.wait(timeout=60) == 0, list(child.stderr_tail)
    assert json.loads(lines[-1]) == {"HF_HUB_OFFLINE": expected, "TRANSFORMERS_OFFLINE": expected}
    assert runner_env(dict(base))["HF_HUB_OFFLINE"] == expected  # selftest's own launches


def test_the_container_is_offline_whatever_the_config_says():
    from runner import hub_env

    assert hub_env.variables(False, {"HF_HUB_OFFLINE": "0"}, network=False) == {"HF_HUB_OFFLINE": "1",
                                                                               "TRANSFORMERS_OFFLINE": "1"}


def test_an_unusable_cache_folder_falls_back_to_the_temporary_folder(tmp_path, monkeypatch):
    from doctor.launch import runner_path

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    folder = runner_path({"XDG_CACHE_HOME": str(blocker), "HOME": str(tmp_path)})
    assert folder.is_relative_to(tmp_path / "tmp") and (folder / "runner" / "family.py").is_file()
    assert sorted(p.name for p in folder.iterdir()) == ["runner"]  # nothing else importable from there

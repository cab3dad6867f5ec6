"""`drdoctor generate` and `drdoctor selftest` end to end through the CLI, and the RunView renderer."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from _runner_helpers import REPO, SELFTEST_END_TO_END, parse_stdout, runner_env
from doctor.commands.generate import runner_args
from doctor.launch import exit_code_from_returncode
from doctor.run_view import RunView
from runner.events import STAGES, problems


def doctor(tmp_path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = runner_env(tmp_path)
    env["DRDOCTOR_CONFIG"] = str(tmp_path / "config.toml")
    return subprocess.run([sys.executable, "-m", "doctor", *args], capture_output=True, env=env, cwd=tmp_path,
                          timeout=timeout)


def bundle_args(tmp_path: Path, bundle_dir: Path, *extra: str) -> list[str]:
    return ["--bundle", str(bundle_dir), "--style", "pop", "--length", "2", "--seed", "1",
            "--out", str(tmp_path / "song.wav"), "--run-dir", str(tmp_path / "runs"), *extra]


def test_generate_json_passes_events_and_exit_code(tmp_path, bundle_dir):
    proc = doctor(tmp_path, "generate", "--json", *bundle_args(tmp_path, bundle_dir))
    assert proc.returncode == 0, proc.stderr
    events = parse_stdout(proc.stdout)
    assert all(problems(e) == [] for e in events)
    assert [e["stage"] for e in events if e["type"] == "stage_finished"] == list(STAGES)
    assert (tmp_path / "song.wav").is_file()

    proc = doctor(tmp_path, "generate", "--json", *bundle_args(tmp_path, bundle_dir, "--fault", "white_noise"))
    assert proc.returncode == 4
    assert parse_stdout(proc.stdout)[-1]["exit_code"] == 4


def test_generate_plain_display(tmp_path, bundle_dir):
    proc = doctor(tmp_path, "generate", *bundle_args(tmp_path, bundle_dir, "--fault", "vae_zeros"))
    text = proc.stdout.decode()
    assert proc.returncode == 4
    assert "sample" in text and "31/31 steps" in text
    assert "FAIL peak" in text and "error in validate (exit 4)" in text and "what to do:" in text
    assert "{" not in text  # no raw events in the display


def test_generate_python_without_runner_deps(tmp_path, bundle_dir):
    proc = doctor(tmp_path, "generate", "--python", str(tmp_path / "no-python"), *bundle_args(tmp_path, bundle_dir))
    assert proc.returncode == 3 and b"cannot start" in proc.stderr


def test_generate_forwards_ctrl_c(tmp_path, bundle_dir):
    env = runner_env(tmp_path)
    env["DRDOCTOR_CONFIG"] = str(tmp_path / "config.toml")
    proc = subprocess.Popen([sys.executable, "-m", "doctor", "generate", "--json",
                             *bundle_args(tmp_path, bundle_dir, "--fault", "slow:0.1")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    for line in proc.stdout:
        if json.loads(line).get("type") == "stage_progress":
            proc.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C does to drdoctor
            break
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == 130
    assert parse_stdout(rest)[-1]["exit_code"] == 130


def test_generate_help_is_built_from_the_runners_own_options(tmp_path):
    """No hand copy: every option `python -m runner` defines is in `drdoctor generate --help` with its help
    (or drdoctor's meaning of it), --fault (the self-test's switch) is not."""
    import argparse

    from doctor.commands.generate import GENERATE_HELP
    from runner.request import build_parser

    proc = doctor(tmp_path, "generate", "--help")
    assert proc.returncode == 0, proc.stderr
    shown = " ".join(proc.stdout.decode().split())
    options = [a for a in build_parser()._actions if a.option_strings and a.dest != "help"]
    assert len(options) > 20
    for action in options:
        said = GENERATE_HELP.get(action.option_strings[0], action.help)
        if said == argparse.SUPPRESS:
            assert action.option_strings[0] not in shown
            continue
        assert action.option_strings[0] in shown
        if said:
            assert " ".join(said.split()) in shown, action.option_strings
    assert "{auto,float32,bfloat16,float16}" in shown  # the runner's dtype list, not a copy


def test_config_fills_checkout_and_models(tmp_path):
    checkout = tmp_path / "DiffRhythm"
    (checkout / "model").mkdir(parents=True)
    (checkout / "model" / "cfm.py").write_text("# the marker of a checkout\n")
    config = {"diffrhythm": {"root": str(checkout)}, "models": {"dir": "/m", "vae": "/v/vae.pt"}}
    assert runner_args(["--style", "x"], config) == [
        "--style", "x", "--diffrhythm", str(checkout), "--models", "/m", "--model-file", "vae=/v/vae.pt"]
    assert runner_args(["--diffrhythm", "/mine"], config)[:2] == ["--diffrhythm", "/mine"]
    assert "--diffrhythm" not in runner_args(["--bundle", "/b"], config)


def test_signal_deaths_map_to_exit_codes():
    assert exit_code_from_returncode(-signal.SIGINT) == 130
    assert exit_code_from_returncode(-signal.SIGKILL) == 137
    assert exit_code_from_returncode(4) == 4


def test_doctor_side_imports_no_torch(tmp_path):
    code = ("import sys, doctor.commands.generate, doctor.commands.selftest, doctor.run_view, doctor.launch; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def _events(tmp_path, bundle_dir, *extra):
    out = subprocess.run([sys.executable, "-m", "runner", *bundle_args(tmp_path, bundle_dir, *extra)],
                         capture_output=True, env=runner_env(tmp_path), timeout=120)
    return parse_stdout(out.stdout)


def test_run_view_live_and_fold(tmp_path, bundle_dir):
    events = _events(tmp_path, bundle_dir, "--fault", "white_noise")
    out = io.StringIO()
    view = RunView(out, live=True)
    for event in events:
        view.feed(event)
        view.feed({"v": 1, "type": "something_new", "run": "x", "t": 0})  # unknown types are ignored
    view.close()
    text = out.getvalue()
    assert "\r\x1b[2K" in text and "steps/s" in text
    assert "FAIL spectral_flatness" in text and "exit 4" in text
    state = view.state
    assert state.exit_code == 4 and state.error["stage"] == "validate"
    assert state.stages["sample"].status == "done" and state.stages["sample"].done == 31
    assert state.stages["validate"].status == "failed" and state.stages["write"].status == "pending"


def test_run_view_eta_from_event_clocks():
    view = RunView(io.StringIO(), live=False)
    view.feed({"type": "stage_started", "stage": "sample", "total": 31, "unit": "step", "t": 100.0})
    view.feed({"type": "stage_progress", "stage": "sample", "done": 10, "total": 31, "t": 120.0})
    stage = view.state.stages["sample"]
    assert stage.rate() == pytest.approx(0.5) and stage.eta() == pytest.approx(42.0)
    assert "ETA 42.0s" in view.progress_text(stage) and "0.50 steps/s" in view.progress_text(stage)
    view.feed({"type": "stage_progress", "stage": "sample", "done": 11, "total": 31, "t": 320.0})
    assert "20.0 s/step" in view.progress_text(stage)


def test_selftest_end_to_end(tmp_path):
    """The command itself: it builds the bundle, runs cases two at a time and judges each (the other cases run,
    with their declared arguments and outcomes, in test_run_cli.py::test_failures)."""
    only = [arg for name in SELFTEST_END_TO_END for arg in ("--only", name)]
    proc = doctor(tmp_path, "selftest", "--json", *only, timeout=600)
    report = json.loads(proc.stdout)
    bad = [r for r in report["results"] if not r["ok"]]
    assert proc.returncode == 0 and report["ok"], bad
    assert [r["name"] for r in report["results"]] == list(SELFTEST_END_TO_END)
    resumed = [r for r in report["results"] if r["name"] == "cancel_resume"][0]
    assert resumed["got"] == "exit 130 at sample; resume: exit 0"

"""The app shell: palette, help, bindings, the event fold, message coalescing, import hygiene."""

from __future__ import annotations

import subprocess
import sys

from doctor.tui import launching, messages
from doctor.tui.app import DrDoctorApp
from doctor.tui.options import TuiOptions
from doctor.tui.run_state import RunState, fraction
from doctor.tui.screens.help import HelpScreen
from doctor.tui.screens.runs import RunsScreen
from runner.events import STAGES
from tuitools import recorded_events, wait_until


async def test_palette_switches_screens_and_help_lists_the_keys(tmp_path):
    app = DrDoctorApp(TuiOptions(autostart_checkup=False, run_dir=tmp_path / "runs"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"go to runs")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert app.current_mode == "runs"
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = app.screen.query_one("Markdown").source
        assert "**Reload**" in text and "Read the run folders again" in text and "## The screens" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.press("f2")
        assert app.current_mode == "checkup"


def test_every_binding_has_an_id_and_a_tooltip():
    from doctor.tui.screens.checkup import CheckupScreen
    from doctor.tui.screens.fix_preview import FixPreview
    from doctor.tui.screens.generate import GenerateScreen

    for owner in (DrDoctorApp, CheckupScreen, GenerateScreen, RunsScreen, FixPreview, HelpScreen):
        for binding in owner.BINDINGS:
            assert binding.id and binding.tooltip, (owner.__name__, binding.key)


def test_keymap_rebinds_by_id(tmp_path):
    app = DrDoctorApp(TuiOptions(autostart_checkup=False), keymap={"app.runs": "f9"})
    assert app._keymap == {"app.runs": "f9"}


def test_fold_of_a_recorded_run():
    state = RunState()
    for event in recorded_events("run-ok"):
        state.apply(event)
    state.exited(0, [])
    assert state.ok and state.output and [fraction(state.stages[s]) for s in STAGES] == [1.0] * len(STAGES)
    assert state.check("peak")["ok"] and state.artifact("manifest")

    failed = RunState()
    for event in recorded_events("run-failed"):
        failed.apply(event)
    failed.exited(4, [])
    assert not failed.ok and failed.failed_stage == "validate" and failed.exit_code == 4

    cancelled = RunState()
    for event in recorded_events("run-cancelled"):
        cancelled.apply(event)
    cancelled.exited(130, [])
    assert cancelled.cancelled and cancelled.resumable


def test_a_crash_without_run_finished_is_explained():
    state = RunState()
    state.apply({"type": "stage_started", "stage": "load", "total": None, "unit": None, "t": 1.0, "run": "r"})
    state.exited(1, ["Traceback (most recent call last):", "ModuleNotFoundError: No module named 'torch'"])
    assert state.error["code"] == 3 and "no torch" in state.error["message"]
    assert state.stages["load"].status == "failed" and state.failed_stage == "load"


def test_progress_messages_coalesce_per_stage():
    a = messages.StageProgress({"stage": "sample", "done": 1})
    b = messages.StageProgress({"stage": "sample", "done": 2})
    c = messages.StageProgress({"stage": "decode", "done": 1})
    assert a.can_replace(b) and not a.can_replace(c)
    assert not a.can_replace(messages.RunEvent({"type": "check"}))


def test_launch_arguments_match_generate_and_container(tmp_path):
    options = TuiOptions(bundle="b", run_dir=tmp_path / "runs")
    form = {"lyrics": "song.lrc", "style": "pop", "ref_audio": None, "length": None, "seed": 3, "steps": 8,
            "device": "cpu", "dtype": "auto", "out": "x.wav"}
    args = launching.runner_args(options, **form)
    assert args[:2] == ["--bundle", "b"] and "--ref-audio" not in args and "--length" not in args
    assert args[args.index("--seed") + 1] == "3" and args[args.index("--run-dir") + 1] == str(tmp_path / "runs")
    assert launching.container_args(options, **form)[:5] == ["container", "run", "generate", "--json", "--host-paths"]
    assert launching.resume_args(options, "abc")[:2] == ["--resume", str(tmp_path / "runs" / "abc")]


def test_the_app_loads_no_torch():
    code = ("import sys; from doctor.commands.tui import _parser, build_options; import doctor.tui.app; "
            "build_options(_parser().parse_args([])); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


async def test_a_worker_that_raises_is_reported_not_swallowed(tmp_path, monkeypatch):
    from doctor.tui import engines
    from doctor.tui.screens.checkup import CheckupScreen

    def broken(options, on_finding):
        raise RuntimeError("probe exploded")

    monkeypatch.setattr(engines, "stream_checkup", broken)  # the engine fails; the screen must say so
    app = DrDoctorApp(TuiOptions(run_dir=tmp_path / "runs"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, CheckupScreen)
        await wait_until(pilot, lambda: "probe exploded" in str(screen.query_one("#summary").render()))
        assert not screen.running

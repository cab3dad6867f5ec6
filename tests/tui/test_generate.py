"""The generate screen driven as a user, against the real runner on the tiny bundle."""

from __future__ import annotations

from textual.widgets import ContentSwitcher, Input, Static

from doctor.tui.app import DrDoctorApp
from doctor.tui.widgets.stage_progress import StageBars
from doctor.tui.widgets.validation_table import ValidationTable
from runner.events import STAGES
from tuitools import paste_into, wait_until


async def type_into(pilot, selector: str, text: str) -> None:
    await pilot.click(selector)
    field = pilot.app.screen.query_one(selector, Input)
    field.value = ""
    await pilot.press(*text)


async def test_full_generation_fills_bars_and_validation(gen_options, lrc, tmp_path):
    app = DrDoctorApp(gen_options, mode="generate")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await paste_into(pilot, "#lyrics", str(lrc))
        preview = str(screen.query_one("#lrc-preview", Static).render())
        assert "2 timed lines" in preview and "hello world" in preview and "line 4" in preview
        await type_into(pilot, "#style", "pop")
        await type_into(pilot, "#seed", "7")
        await pilot.press("ctrl+r")
        assert screen.query_one(ContentSwitcher).current == "run"
        await wait_until(pilot, lambda: screen.state.done and not screen.running)
        bars = screen.query_one(StageBars)
        assert [bars.percent(stage) for stage in STAGES] == [100.0] * len(STAGES)
        names = [row[0] for row in screen.query_one(ValidationTable).results()]
        assert {"peak", "rms_dbfs", "audio_finite"} <= set(names)
        outcome = str(screen.query_one("#outcome", Static).render())
        assert "done: " + str(tmp_path / "song.wav") in outcome
        assert "duration" in outcome and "peak" in outcome and "loudness" in outcome
        assert (tmp_path / "song.wav").is_file()
        assert screen.state.request["seed"] == 7
        assert "skipped" in str(screen.query_one("#warnings", Static).render())


async def test_form_refuses_bad_values(gen_options, tmp_path):
    mixed = tmp_path / "mixed.lrc"
    mixed.write_text("[00:01.00]timed line\nan untimed line\n", encoding="utf-8")
    app = DrDoctorApp(gen_options, mode="generate")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await paste_into(pilot, "#lyrics", str(mixed))  # the runner's own rule: never a mix
        assert "mixes timed and untimed lines" in str(screen.query_one("#lrc-preview", Static).render())
        await paste_into(pilot, "#lyrics", "/no/such/file.lrc")
        await paste_into(pilot, "#length", "0")
        await pilot.press("ctrl+r")
        errors = str(screen.query_one("#form-errors", Static).render())
        assert "Length s: --length 0.0: must be positive" in errors
        assert "unusable lyrics file" in errors
        assert errors.count("no style given") == 1  # the runner's own rule, said once
        assert not screen.running and screen.process is None
        assert screen.query_one(ContentSwitcher).current == "form"


async def test_fault_run_shows_failing_stage(gen_options):
    gen_options.extra_runner_args = ["--fault", "vae_zeros"]
    gen_options.style = "pop"
    app = DrDoctorApp(gen_options, mode="generate")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: screen.state.done and not screen.running)
        assert screen.state.exit_code == 4
        outcome = screen.query_one("#outcome", Static)
        assert outcome.has_class("-failed")
        text = str(outcome.render())
        assert f"FAILED in {screen.state.failed_stage}" in text and "(exit 4)" in text
        assert "remedy:" in text
        assert not (gen_options.run_dir / "song.wav").exists()


async def test_cancel_then_resume(gen_options):
    gen_options.extra_runner_args = ["--fault", "slow:0.15"]
    gen_options.style = "pop"
    app = DrDoctorApp(gen_options, mode="generate")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: (screen.state.stages["sample"].done or 0) >= 2)
        await pilot.press("escape")
        await wait_until(pilot, lambda: screen.state.done and not screen.running)
        assert screen.state.cancelled and screen.state.resumable
        assert "resumable" in str(screen.query_one("#outcome", Static).render())
        first = screen.state.run
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: screen.state.done and not screen.running)
        assert screen.state.ok, screen.state.error
        assert screen.state.request.get("resume", "").endswith(first)
        assert [screen.query_one(StageBars).percent(s) for s in STAGES] == [100.0] * len(STAGES)

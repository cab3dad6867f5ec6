"""What the screens show at 60x20 and 80x24 (a cut line ends in `…`, the time left stays visible, sizes in
binary units), and what the app keeps: the theme (in drdoctor's config), screenshots (in a folder that exists),
the palette's order."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from textual.command import CommandList

from doctor.tui.app import DrDoctorApp
from doctor.tui.options import TuiOptions
from doctor.tui.widgets.findings_table import FindingsTable
from doctor.tui.widgets.validation_table import ValidationTable
from runner.events import make_event
from tuitools import DATA, replay, screen_lines, select_row, toasts, wait_until


def _generate_app(tmp_path) -> DrDoctorApp:
    return DrDoctorApp(TuiOptions(autostart_checkup=False, run_dir=tmp_path / "runs", style="pop"), mode="generate")


def _row(app, start: str) -> str:
    found = [line for line in screen_lines(app) if line.lstrip().startswith(start)]
    assert found, (start, screen_lines(app))
    return found[0]


async def test_the_time_left_shows_at_60x20(tmp_path, monkeypatch):
    monkeypatch.chdir(DATA)
    app = _generate_app(tmp_path)
    async with app.run_test(size=(60, 20)) as pilot:
        await replay(pilot, app.screen, "run-ok",
                     until=lambda e: e["type"] == "stage_progress" and e["stage"] == "sample" and e["done"] == 13)
        assert "left" in _row(app, "sample"), screen_lines(app)


async def test_a_skipped_stage_and_a_long_finding_end_in_an_ellipsis_at_80x24(tmp_path, checkup_options):
    app = _generate_app(tmp_path)
    reason = "the latents of run 20261201-0815-a1b2 were reused from its folder, so nothing was sampled again"
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await replay(pilot, screen, "run-ok", until=lambda e: e["type"] == "stage_started" and e["stage"] == "sample")
        from doctor.tui import messages

        screen.post_message(messages.RunEvent(make_event("stage_finished", "r", stage="sample", skipped=True,
                                                         reason=reason, seconds=0.0)))
        await pilot.pause()
        screen._redraw()
        await pilot.pause()
        line = _row(app, "sample").rstrip()
        assert line.endswith("…") and "skipped: the latents of run" in line, line
    app = DrDoctorApp(checkup_options)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.report is not None and not app.screen.running)
        table = app.screen.query_one(FindingsTable)
        await select_row(pilot, table, "mem.wsl_limit")
        await pilot.pause()
        title = table.findings["mem.wsl_limit"].title
        line = _row(app, "! warn    mem.wsl_limit").rstrip(" ▃▁▂▆▇")
        assert len(title) > 40 and line.endswith("…"), line
        assert title.startswith(line.split("mem.wsl_limit", 1)[1].strip().rstrip("…")), line


async def test_a_long_output_path_keeps_its_end_in_the_runs_table(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    shutil.copytree(DATA / "recorded", runs)
    deep = "/home/someone/music/diffrhythm/2026/december/a-very-long-album-name/take-07.wav"
    events = runs / "run-ok" / "events.ndjson"
    events.write_text(events.read_text(encoding="utf-8").replace('"./ok.wav"', f'"{deep}"'), encoding="utf-8")
    app = DrDoctorApp(TuiOptions(autostart_checkup=False, run_dir=runs), mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.screen.records)
        await pilot.pause()
        line = _row(app, "run-ok").rstrip()
        assert "…" in line and line.endswith("take-07.wav"), line


async def test_sizes_in_bytes_read_as_binary_units(tmp_path):
    app = _generate_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(ValidationTable)
        table.add_check({"stage": "preflight", "name": "disk_WAV", "ok": True, "value": 79_920_000_000,
                         "limit": 1_800_000, "message": ""})
        table.add_check({"stage": "load", "name": "file_cfm", "ok": True, "value": 2_200_000_000, "limit": None})
        await pilot.pause()
        assert table.results() == [("disk_WAV", "74.4 GiB", "1.7 MiB", True), ("file_cfm", "2.0 GiB", "", True)]


async def test_a_chosen_theme_is_kept_in_the_config_with_its_comments(tmp_path):
    config = Path(os.environ["DRDOCTOR_CONFIG"])
    config.write_text("# my settings\n[models]\ndir = \"/m\"  # the weights\n", encoding="utf-8")
    app = DrDoctorApp(TuiOptions(autostart_checkup=False, run_dir=tmp_path / "runs"))
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "textual-dark"
        app.theme = "textual-light"  # what the palette's theme picker does
        await wait_until(pilot, lambda: "theme" in config.read_text(encoding="utf-8"))
    text = config.read_text(encoding="utf-8")
    assert text.startswith("# my settings\n[models]\ndir = \"/m\"  # the weights\n") and 'theme = "textual-light"' in text
    app = DrDoctorApp(TuiOptions(autostart_checkup=False, run_dir=tmp_path / "runs"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "textual-light"


async def _palette(pilot, query: str = "") -> list[str]:
    await pilot.press("ctrl+p")
    await pilot.pause(0.3)
    if query:
        await pilot.press(*query)
    await pilot.pause(0.3)
    commands = pilot.app.screen.query_one(CommandList)
    return [str(commands.get_option_at_index(i).prompt).split("\n")[0] for i in range(commands.option_count)]


async def test_screenshot_without_a_downloads_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("DRDOCTOR_DATA_DIR", str(tmp_path / "data"))
    app = DrDoctorApp(TuiOptions(autostart_checkup=False, run_dir=tmp_path / "runs"))
    async with app.run_test(size=(80, 24)) as pilot:
        await _palette(pilot, "screenshot")
        await pilot.press("enter")
        folder = tmp_path / "data" / "screenshots"
        await wait_until(pilot, lambda: folder.is_dir() and any(folder.glob("*.svg")), timeout=10)
        await wait_until(pilot, lambda: any("Saved screenshot" in t for t in toasts(app)), timeout=5)
        assert any(str(folder) in t for t in toasts(app)), toasts(app)
        assert not (tmp_path / "home" / "Downloads").exists()


async def test_the_palette_lists_this_screens_commands_first_then_the_others_then_textuals(tmp_path):
    app = DrDoctorApp(TuiOptions(autostart_checkup=False, run_dir=tmp_path / "runs"), mode="generate")
    async with app.run_test(size=(80, 24)) as pilot:
        listed = await _palette(pilot)
    assert listed[:2] == ["Generate: run", "Generate: cancel the run"]
    textual_own = [i for i, title in enumerate(listed) if title in ("Keys", "Quit", "Screenshot", "Theme")]
    assert len(textual_own) == 4 and min(textual_own) > max(i for i, t in enumerate(listed) if ":" in t or "Go to" in t)

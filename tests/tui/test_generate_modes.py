"""The generate form's modes (new / edit / continue), batch size and style sources, driven as a user
against the real runner on the tiny bundle: what the form sends is what the runner's request records."""

from __future__ import annotations

import json

from textual.widgets import ContentSwitcher, DataTable, Input, Select, Static

from doctor.tui.app import DrDoctorApp
from doctor.tui.launching import runner_args
from doctor.tui.widgets.validation_table import ValidationTable
from tuitools import paste_into, select_row, wait_until, write_song


async def type_into(pilot, selector: str, text: str) -> None:
    await pilot.click(selector)
    field = pilot.app.screen.query_one(selector, Input)
    field.value = ""
    await pilot.press(*text)


async def choose_mode(pilot, mode: str) -> None:
    """Open the mode list and pick `mode` with the keys, as a person would."""
    select = pilot.app.screen.query_one("#mode", Select)
    select.focus()
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    await pilot.press("home")  # the list's cursor wraps around: start from the top
    for _ in range(["new", "edit", "continue"].index(mode)):
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()
    assert select.value == mode


def outcome(screen) -> str:
    return str(screen.query_one("#outcome", Static).render())


def saved_request(options, screen) -> dict:
    return json.loads((options.run_dir / screen.state.run / "request.json").read_text(encoding="utf-8"))


async def run_and_wait(pilot, screen) -> None:
    await pilot.press("ctrl+r")
    assert screen.query_one(ContentSwitcher).current == "run", screen.form_errors()
    await wait_until(pilot, lambda: screen.state.done and not screen.running)


async def test_edit_run_regenerates_the_spans(gen_options, tmp_path):
    song = write_song(tmp_path / "take.wav", 6.0)
    app = DrDoctorApp(gen_options, mode="generate")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert not screen.query_one("#song-row").display and not screen.query_one("#spans-row").display  # new
        await choose_mode(pilot, "edit")
        assert screen.query_one("#song-row").display and screen.query_one("#spans-row").display
        await paste_into(pilot, "#song", str(song))
        await type_into(pilot, "#spans", "1:2, 4.5:end")
        await type_into(pilot, "#style", "pop")
        await run_and_wait(pilot, screen)
        assert screen.state.ok, screen.state.error
        request = saved_request(gen_options, screen)
        assert request["edit"] == str(song) and request["regenerate"] == ["1:2", "4.5:end"]
        assert request["continue_song"] is None and request["batch"] == 1
        assert "done: " + str(tmp_path / "song.wav") in outcome(screen)


async def test_continue_run_needs_and_takes_the_length(gen_options, tmp_path):
    song = write_song(tmp_path / "start.wav", 4.0)
    gen_options.style = "pop"
    app = DrDoctorApp(gen_options, mode="generate")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await choose_mode(pilot, "continue")
        assert screen.query_one("#song-row").display and not screen.query_one("#spans-row").display
        await paste_into(pilot, "#song", str(song))
        await pilot.press("ctrl+r")
        assert not screen.running and "Length s: continue needs the new length" in screen.form_errors()[0]
        await type_into(pilot, "#length", "9")
        await run_and_wait(pilot, screen)
        assert screen.state.ok, screen.state.error
        request = saved_request(gen_options, screen)
        assert request["continue_song"] == str(song) and request["length"] == 9 and request["edit"] is None


async def test_runs_history_opens_a_song_in_edit_mode(gen_options, tmp_path):
    gen_options.style = "pop"
    app = DrDoctorApp(gen_options, mode="generate")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await run_and_wait(pilot, screen)
        assert screen.state.ok, screen.state.error
        await pilot.press("f4")
        runs = app.screen
        await wait_until(pilot, lambda: screen.state.run in runs.records)
        await select_row(pilot, runs.query_one(DataTable), screen.state.run)
        await pilot.press("e")
        await wait_until(pilot, lambda: app.screen is screen)
        assert screen.song_mode == "edit" and screen.query_one("#song", Input).value == str(tmp_path / "song.wav")
        assert screen.query_one("#song-row").display and app.focused is screen.query_one("#spans", Input)
        assert "Spans: --edit needs at least one --regenerate span" in str(screen.query_one("#form-errors", Static).render())


async def test_batch_of_two_lists_both_then_style_from_that_run_picked_in_runs(gen_options, tmp_path):
    app = DrDoctorApp(gen_options, mode="generate")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await type_into(pilot, "#style", "pop")
        await type_into(pilot, "#batch", "2")
        await run_and_wait(pilot, screen)
        assert screen.state.ok, screen.state.error
        first = screen.state.run
        text = outcome(screen)
        assert "2 candidates written" in text
        for k in (1, 2):
            assert f"#{k} " + str(tmp_path / f"song-{k}.wav") in text and (tmp_path / f"song-{k}.wav").is_file()
        assert text.count("peak") == 2 and text.count("loudness") == 2  # each candidate's own
        names = [row[0] for row in screen.query_one(ValidationTable).results()]
        assert {"peak #1", "peak #2"} <= set(names)  # each candidate's checks are their own rows

        # the same style again, picked in the runs history: `s` puts its folder in "From run", alone
        await pilot.press("f4")
        runs = app.screen
        await wait_until(pilot, lambda: first in runs.records)
        await select_row(pilot, runs.query_one(DataTable), first)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.screen is screen)
        assert screen.query_one("#style-from", Input).value == str(gen_options.run_dir / first)
        assert screen.query_one("#style", Input).value == ""
        await type_into(pilot, "#batch", "1")
        await run_and_wait(pilot, screen)
        assert screen.state.ok, screen.state.error
        request = saved_request(gen_options, screen)
        assert request["style_from"] == str(gen_options.run_dir / first) and request["style"] is None


async def test_failed_candidate_is_named_by_index(gen_options, tmp_path):
    gen_options.extra_runner_args = ["--fault", "nan_row:2"]
    gen_options.style = "pop"
    app = DrDoctorApp(gen_options, mode="generate")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        screen.query_one("#batch", Input).value = "3"
        await run_and_wait(pilot, screen)
        assert screen.state.ok, screen.state.error
        text = outcome(screen)
        assert "2 candidates written" in text
        assert "#1 " + str(tmp_path / "song-1.wav") in text and "#3 " + str(tmp_path / "song-3.wav") in text
        assert "✗ candidate 2 failed:" in text and "song-2.wav" not in text


async def test_form_refuses_bad_spans_batch_and_style_sources(gen_options, tmp_path):
    clip = write_song(tmp_path / "clip.wav", 0.1)
    gen_options.style = "pop"
    app = DrDoctorApp(gen_options, mode="generate")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        errors = lambda: str(screen.query_one("#form-errors", Static).render())  # noqa: E731
        await choose_mode(pilot, "edit")
        await type_into(pilot, "#spans", "10-25")
        await type_into(pilot, "#batch", "0")
        await pilot.press("ctrl+r")
        assert "Spans: --regenerate '10-25': expected START:END" in errors()
        assert "Batch: --batch 0: must be 1..64" in errors()
        assert "Song: edit needs the song file" in errors()
        assert not screen.running and screen.process is None
        assert screen.query_one(ContentSwitcher).current == "form"
        screen.query_one("#spans", Input).value = "30:20"  # the runner's own rule: the end after the start
        screen.query_one("#song", Input).value = str(tmp_path / "missing.wav")
        screen.query_one("#ref-audio", Input).value = str(clip)
        screen.query_one("#style-embedding", Input).value = str(clip)
        await pilot.pause()
        assert "is not after the start" in errors()
        assert "no such song file" in errors()
        assert "clip.wav: expected a .npy or .pt file" in errors()
        assert "Style: give one style source, not text prompt + reference clip + embedding file" in errors()
        await choose_mode(pilot, "continue")  # the spans are edit's only; continue needs a length
        assert "Spans:" not in errors() and "Length s: continue needs the new length" in errors()
        await choose_mode(pilot, "new")
        assert "Song:" not in errors() and "Length s:" not in errors()


def test_form_fields_become_runner_options(gen_options):
    edit = runner_args(gen_options, style_from="runs/a", edit="in.wav", regenerate=["10:25", "50:end"], batch=2)
    assert edit[edit.index("--edit"):edit.index("--edit") + 8] == [
        "--edit", "in.wav", "--regenerate", "10:25", "--regenerate", "50:end", "--batch", "2"]
    assert edit[edit.index("--style-from") + 1] == "runs/a"
    more = runner_args(gen_options, style_embedding="v.npy", continue_song="in.wav", regenerate=[], length=180.0)
    assert ["--continue", "in.wav"] == more[more.index("--continue"):more.index("--continue") + 2]
    assert "--regenerate" not in more and "--batch" not in more and "--style-embedding" in more



def test_container_takes_the_same_form_options(gen_options):
    """"Run in: container" hands the same options to `drdoctor container run generate`, which maps the song
    and style files to container paths; its parser must accept them all."""
    from doctor.commands.container import build_parser
    from doctor.tui.launching import container_args

    args = container_args(gen_options, style_from="runs/a", edit="in.wav", regenerate=["10:25", "50:end"], batch=3)
    assert args[:5] == ["container", "run", "generate", "--json", "--host-paths"]  # the app shows host paths
    ns = build_parser().parse_args(args[1:])  # `drdoctor container`'s own parser
    assert (ns.edit, ns.regenerate, ns.batch, ns.style_from) == ("in.wav", ["10:25", "50:end"], 3, "runs/a")
    assert ns.json and ns.host_paths

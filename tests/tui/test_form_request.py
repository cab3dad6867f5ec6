"""The generate form judges what it would launch with the runner's own `Request` (runner/request.py): the
limits are the runner's, the seed is the runner's when the field is empty, and a refused form takes the
user to the first bad field."""

from __future__ import annotations

import json

from textual.widgets import ContentSwitcher, Input, Select, Static

from doctor.tui.app import DrDoctorApp
from doctor.tui.options import TuiOptions
from runner.errors import BadInput
from runner.request import DTYPES, Request, validate
from tuitools import paste_into, toasts, wait_until


def _form_app(tmp_path, **kw) -> DrDoctorApp:
    options = TuiOptions(autostart_checkup=False, bundle=str(tmp_path / "bundle"), style="pop",
                         run_dir=tmp_path / "runs", out=str(tmp_path / "song.wav"), **kw)
    return DrDoctorApp(options, mode="generate")


def _runners_refusal(field: str, typed: str) -> str | None:
    """What the runner's own validation says of a request that differs from a good one in `field` only."""
    try:
        validate(Request(bundle="b", style="pop", **{field: float(typed) if field == "length" else int(typed)}))
    except BadInput as exc:
        return exc.message
    return None


async def test_the_form_refuses_what_the_runner_refuses_and_accepts_what_it_accepts(tmp_path):
    app = _form_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert screen.form_errors() == []
        cases = [("steps", "1"), ("steps", "2"), ("steps", "1000"), ("steps", "1001"), ("batch", "0"),
                 ("batch", "64"), ("batch", "65"), ("length", "0"), ("length", "12.5")]
        for wid, typed in cases:
            await paste_into(pilot, f"#{wid}", typed)
            refusal, shown = _runners_refusal(wid, typed), screen.form_errors()
            if refusal is None:
                assert shown == [], (wid, typed, shown)
            else:
                assert len(shown) == 1 and shown[0].endswith(refusal), (wid, typed, shown, refusal)
            await paste_into(pilot, f"#{wid}", str(getattr(Request(), wid) or ""))
        assert [str(value) for _, value in screen.query_one("#dtype", Select)._options] == list(DTYPES)


async def test_a_refused_form_focuses_the_first_bad_field_and_names_it(tmp_path):
    app = _form_app(tmp_path)
    async with app.run_test(size=(60, 20)) as pilot:
        screen = app.screen
        await paste_into(pilot, "#steps", "1")
        screen.query_one("#lyrics", Input).focus()
        screen.query_one("#form").scroll_home(animate=False)
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert screen.query_one(ContentSwitcher).current == "form" and not screen.running
        assert app.focused is screen.query_one("#steps")
        form, field = screen.query_one("#form"), screen.query_one("#steps")
        assert form.region.contains_region(field.region), (form.region, field.region)  # on screen, not below
        assert any("Steps" in toast and "--steps 1: need at least 2" in toast for toast in toasts(app)), toasts(app)


async def test_an_empty_seed_is_random_recorded_and_shown(gen_options, tmp_path):
    gen_options.style = "pop"
    app = DrDoctorApp(gen_options, mode="generate")
    seeds = []
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert screen.query_one("#seed", Input).value == ""
        for _ in range(2):
            await pilot.press("ctrl+r")
            await wait_until(pilot, lambda: screen.state.done and not screen.running)
            assert screen.state.ok, screen.state.error
            saved = json.loads((gen_options.run_dir / screen.state.run / "request.json").read_text(encoding="utf-8"))
            assert saved["seed"] == screen.state.request["seed"]
            assert f"seed {saved['seed']}" in str(screen.query_one("#run-title", Static).render())
            seeds.append(saved["seed"])
            await pilot.press("ctrl+e")
        await pilot.press("f4")  # the runs history shows the seed of the selected (newest) run
        await wait_until(pilot, lambda: getattr(app.screen, "records", None) and len(app.screen.records) == 2)
        await pilot.pause()
        assert f"seed {seeds[1]}" in str(app.screen.query_one("#run-detail", Static).render())
    assert seeds[0] != seeds[1], seeds

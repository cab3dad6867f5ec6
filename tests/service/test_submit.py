"""What a request must be before it is queued (no database needed): the runner's own checks, the seeds,
absolute paths, the service's own options; and the outcome table the README documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from doctor.service import outcomes
from doctor.service.submit import requests
from runner.errors import BadInput
from runner.request import Request, problems

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "bundle.json").write_text("{}", encoding="utf-8")  # existence is all submit checks
    return folder


def test_count_gives_consecutive_seeds_and_paths_become_absolute(tmp_path, bundle):
    (tmp_path / "song.lrc").write_text("[00:01.00] la\n", encoding="utf-8")
    jobs = requests(["--bundle", "bundle", "--lyrics", "song.lrc", "--style", "x", "--seed", "41"], count=3,
                    cwd=tmp_path)
    assert [r.seed for _, r in jobs] == [41, 42, 43]
    argv, request = jobs[2]
    assert argv[-2:] == ["--seed", "43"] and argv.count("--seed") == 1
    assert request.lyrics == str(tmp_path / "song.lrc") and request.bundle == str(bundle)
    assert str(tmp_path / "song.lrc") in argv


def test_a_random_seed_is_drawn_once_and_recorded(bundle):
    jobs = requests(["--bundle", str(bundle), "--style", "x"], count=2)
    first, second = (r.seed for _, r in jobs)
    assert second == first + 1 and jobs[0][0][-2:] == ["--seed", str(first)]


@pytest.mark.parametrize("argv, message", [
    (["--steps", "1"], "--steps 1: need at least 2"),
    (["--cfg", "99"], "--cfg 99.0: outside 0..50"),
    (["--out", "x.wav"], "--out is not taken by a job"),
    (["--run-dir", "r"], "--run-dir is not taken by a job"),
    (["--lyrics", "missing.lrc"], "lyrics file {tmp}/missing.lrc does not exist"),
    (["--no-such-option"], "bad arguments"),
])
def test_bad_requests_are_refused_with_the_runners_message(tmp_path, bundle, argv, message):
    with pytest.raises(BadInput) as refused:
        requests(["--bundle", str(bundle), "--style", "x", *argv], cwd=tmp_path)
    assert message.format(tmp=tmp_path) in refused.value.message


def test_no_style_is_a_problem_of_the_request_itself(bundle):
    """The rule lives in the runner's `Request` validation: the form, the queue and the runner share it."""
    assert [(field, exc.message) for field, exc in problems(Request(bundle=str(bundle)))] == [
        ("style", "no style given")]
    assert problems(Request(bundle=str(bundle), style_from="runs/earlier")) == []
    with pytest.raises(BadInput, match="no style given"):
        requests(["--bundle", str(bundle), "--length", "3"])


def test_no_model_is_refused_unless_the_config_names_one(tmp_path):
    with pytest.raises(BadInput, match="no model"):
        requests(["--style", "x"])
    checkout = tmp_path / "DiffRhythm"
    (checkout / "model").mkdir(parents=True)
    (checkout / "model" / "cfm.py").write_text("# the marker of a checkout\n")  # what discovery takes for one
    jobs = requests(["--style", "x"], config={"diffrhythm": {"root": str(checkout)}})
    assert jobs[0][1].diffrhythm == str(checkout)
    assert "--diffrhythm" not in jobs[0][0]  # each worker fills in its own host's checkout


def test_the_readme_documents_the_outcome_table_the_service_uses():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The generation service", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| (\d+) \| `(\w+)` \|", section, flags=re.MULTILINE))
    assert {int(code): name for code, name in rows.items()} == outcomes.OUTCOMES
    for special in (outcomes.DIED, outcomes.DEAD, outcomes.REQUEUED):
        assert f"`{special}`" in section

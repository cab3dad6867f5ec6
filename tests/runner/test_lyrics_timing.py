"""Untimed lyrics: timed over the song in proportion to phone counts, read back by the LRC parser; the
`drdoctor lyrics time` command and a run with untimed lyrics on the tiny bundle; mixes refused."""

from __future__ import annotations

import subprocess
import sys

import pytest

from runner.bundle.build import vocab
from runner.errors import BadInput
from runner.lrc import parse_lrc
from runner.lyrics_timing import PAUSE_SHARE, refuse_mixed, time_lyrics

from _runner_helpers import REPO, runner_env

TABLE = vocab()
SONG = """[ti: a title]
[verse]
hello there my friend
how are you today

[chorus]
la la la
sing it loud and long, all of us together

[inst]
[outro]
bye
"""


def tokenize(text: str) -> list[int]:
    return [TABLE[ch] for ch in text.lower() if ch in TABLE]


def test_monotone_lrc_read_back_with_durations_in_proportion_to_phones():
    timed, lrc = time_lyrics(SONG, tokenize, 95.0)
    parsed = parse_lrc(lrc)
    assert not parsed.skipped
    assert [line.text for line in parsed.lines] == [t.text for t in timed] == [
        "hello there my friend", "how are you today", "la la la", "sing it loud and long, all of us together", "bye"]
    starts = [line.start for line in parsed.lines]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert starts[0] == pytest.approx(9.5, abs=0.01)  # the intro: 10 % of the song
    assert starts[-1] < 95.0 - 4.75  # the margin before the end
    phones = [len(tokenize(t.text)) + 1 for t in timed]
    assert [t.phones for t in timed] == phones
    # within a section (no pause between) each line lasts in proportion to its phone count
    rate_a = (starts[1] - starts[0]) / phones[0]
    rate_b = (starts[3] - starts[2]) / phones[2]
    assert rate_a == pytest.approx(rate_b, abs=0.02 / phones[2])
    # a section break is a pause; [inst] a long one
    pause = PAUSE_SHARE * 95.0
    assert starts[2] - starts[1] == pytest.approx(phones[1] * rate_a + pause, abs=0.02)
    assert starts[4] - starts[3] == pytest.approx(phones[3] * rate_a + 4 * pause, abs=0.02)


def test_base_model_gets_a_closing_line_so_every_line_is_sung():
    from runner.tokens import build_token_row

    _timed, lrc = time_lyrics("one\ntwo\n", tokenize, 95.0, end_marker=True)
    lines = parse_lrc(lrc).lines
    assert [line.text for line in lines] == ["one", "two", ""]
    row = build_token_row(lines, tokenize, 95, 2048)
    assert "'two'" not in " ".join(row.warnings) and "line 3" in " ".join(row.warnings)


def test_too_many_lines_for_the_song_is_bad_input():
    with pytest.raises(BadInput) as info:
        time_lyrics("a long line of many words\n" * 20, tokenize, 3.0, source="lyrics file x.txt")
    assert "x.txt" in info.value.message and "20 lines" in info.value.message


def test_mixed_timed_and_untimed_lines_are_named():
    with pytest.raises(BadInput) as info:
        refuse_mixed("[00:01.00] timed\nnot timed\n[verse]\nnor this\n", "lyrics file m.lrc")
    assert "m.lrc" in info.value.message and "lines 2, 4" in info.value.message
    refuse_mixed("[00:01.00] timed\n[verse]\n[ar: x]\n", "ok")  # tags are not words


def _lyrics_time(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "doctor", "lyrics", "time", *args], capture_output=True, text=True,
                          cwd=tmp_path, env=runner_env(tmp_path), timeout=120)


def test_drdoctor_lyrics_time_prints_the_lrc_alone(tmp_path, bundle_dir):
    song = tmp_path / "words.txt"
    song.write_text("[verse]\nhello there\nsecond line here\n", encoding="utf-8")
    proc = _lyrics_time(tmp_path, str(song), "--length", "8", "--bundle", str(bundle_dir))
    assert proc.returncode == 0, proc.stderr
    lines = parse_lrc(proc.stdout).lines
    assert [line.text for line in lines] == ["hello there", "second line here"]
    assert proc.stdout.splitlines()[0].startswith("[00:00.80]")
    mixed = tmp_path / "mixed.lrc"
    mixed.write_text("[00:01.00] a\nb\n", encoding="utf-8")
    bad = _lyrics_time(tmp_path, str(mixed), "--length", "8", "--bundle", str(bundle_dir))
    assert bad.returncode == 2 and "line 2" in bad.stderr and "mixed.lrc" in bad.stderr and bad.stdout == ""


def test_run_with_untimed_lyrics_writes_and_reports_its_lrc(run_runner, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("[verse]\nhello there\nsecond line here\n\n[chorus]\nla la\n", encoding="utf-8")
    r = run_runner("--lyrics", str(words), "--length", "8")
    assert r.code == 0, r.stderr
    made = [e for e in r.of("artifact") if e["kind"] == "lrc"]
    assert made and made[0]["path"] == str(r.folder / "lyrics.lrc")
    lines = parse_lrc((r.folder / "lyrics.lrc").read_text()).lines
    assert [line.text for line in lines] == ["hello there", "second line here", "la la"]
    check = [e for e in r.of("check") if e["name"] == "lyrics_timed"][0]
    assert check["value"] == 3 and "lyrics.lrc" in check["message"]


def test_run_with_mixed_lyrics_is_exit_2_naming_the_lines(run_runner, tmp_path):
    mixed = tmp_path / "mixed.lrc"
    mixed.write_text("[00:01.00] first\nsecond without time\n[00:03.00] third\n", encoding="utf-8")
    r = run_runner("--lyrics", str(mixed))
    assert r.code == 2 and r.error["stage"] == "preflight"
    assert "line 2" in r.error["message"] and str(mixed) in r.error["message"]
    assert not r.out.exists()


def test_the_lyrics_command_loads_no_torch_in_drdoctor():
    code = "import sys, doctor.commands.lyrics; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr

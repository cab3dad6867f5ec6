"""Song lengths -> frames, and the token row: placement, pushes, cuts, the base-model quirk."""

from __future__ import annotations

import pytest
import torch

from runner.errors import BadInput, EnvironmentProblem
from runner.lrc import LyricLine, parse_lrc
from runner.tokens import build_token_row, end_frame_for, max_frames_for

FPS = 44100 / 2048


def letters(text: str) -> list[int]:
    """A tokenizer for tests: a=10, b=11, ...; '.' -> 1 (becomes id 2, the period, after the shift)."""
    return [1 if ch == "." else 10 + ord(ch) - ord("a") for ch in text if ch == "." or ch.isalpha()]


@pytest.mark.parametrize(("length", "frames"), [(95, 2048), (95.0, 2048), (96, 6144), (200, 6144), (285, 6144)])
def test_max_frames_for(length, frames):
    assert max_frames_for(length) == frames


@pytest.mark.parametrize("length", [94, 0, -5, 286, 95.5, 120.25, True, "95", None])
def test_max_frames_for_refuses(length):
    with pytest.raises(BadInput) as info:
        max_frames_for(length)
    assert repr(length) in info.value.message
    assert "95" in info.value.message and "96..285" in info.value.message


def test_end_frame_for():
    assert end_frame_for(95, 2048) == 2048
    assert end_frame_for(96, 6144) == int(96 * FPS) == 2067
    assert end_frame_for(285, 6144) == int(285 * FPS)
    assert end_frame_for(400, 6144) == 6144  # capped


def test_placement_shift_and_period_handling():
    lines = [LyricLine(1.0, "ab.c", 1)]
    row = build_token_row(lines, letters, 120, 6144)
    start = int(1.0 * 44100 / 2048)
    # ids + 1; the "." (2) inside becomes "," (1); one "." (2) appended
    assert row.tokens[start : start + 5].tolist() == [11, 12, 1, 13, 2]
    assert row.tokens.sum().item() == 11 + 12 + 1 + 13 + 2
    assert row.tokens.dtype == torch.long and row.tokens.shape == (row.end_frame,)
    assert row.warnings == []


def test_overlapping_lines_are_pushed_after_the_previous_line():
    long_text = "a" * 60  # 61 tokens: about 2.8 s of frames
    lines = [LyricLine(1.0, long_text, 1), LyricLine(1.5, "bb", 2)]
    row = build_token_row(lines, letters, 120, 6144)
    first = int(1.0 * 44100 / 2048)
    second = first + 61
    assert row.tokens[first : first + 60].tolist() == [11] * 60
    assert row.tokens[first + 60].item() == 2
    assert row.tokens[second : second + 3].tolist() == [12, 12, 2]
    assert any("LRC line 2 pushed" in w for w in row.warnings)


def test_small_pushes_are_not_reported():
    lines = [LyricLine(1.0, "aaaa", 1), LyricLine(1.1, "b", 2)]
    row = build_token_row(lines, letters, 120, 6144)
    assert row.warnings == []
    first = int(1.0 * 44100 / 2048)
    assert row.tokens[first + 5 : first + 7].tolist() == [12, 2]


def test_cut_at_the_end_with_a_warning():
    length = 100
    end = end_frame_for(length, 6144)
    start_s = 99.8
    lines = [LyricLine(start_s, "a" * 30, 7)]
    row = build_token_row(lines, letters, length, 6144)
    start = int(start_s * 44100 / 2048)
    fit = end - start
    assert 0 < fit < 31
    assert row.tokens[start:].tolist() == [11] * fit
    assert row.tokens.shape == (end,)
    assert any("LRC line 7 cut" in w and f"{fit} of its 31" in w for w in row.warnings)


def test_lines_at_or_after_the_end_are_dropped_with_their_line_number():
    lines = [LyricLine(10.0, "a", 1), LyricLine(120.0, "b", 4), LyricLine(130.0, "c", 5)]
    row = build_token_row(lines, letters, 120, 6144)
    assert row.tokens.sum().item() == 11 + 2
    assert sum("LRC line 4 starts at 120 s, at or after the song's end (120 s)" in w for w in row.warnings) == 1
    assert sum("LRC line 5 starts" in w for w in row.warnings) == 1


def test_base_model_drops_the_last_remaining_line_and_says_so():
    lines = [LyricLine(10.0, "a", 1), LyricLine(20.0, "b", 2), LyricLine(96.0, "c", 3)]
    row = build_token_row(lines, letters, 95, 2048)
    assert row.end_frame == 2048
    assert row.tokens.sum().item() == 11 + 2  # only line 1: line 3 is past the end, line 2 the quirk
    assert any("LRC line 3 starts" in w for w in row.warnings)
    assert any("LRC line 2" in w and "base model" in w for w in row.warnings)


def test_full_model_keeps_the_last_line():
    lines = [LyricLine(10.0, "a", 1), LyricLine(20.0, "b", 2)]
    row = build_token_row(lines, letters, 120, 6144)
    assert row.tokens.sum().item() == (11 + 2) + (12 + 2)
    assert row.warnings == []


def test_instrumental_needs_no_tokenizer():
    row = build_token_row([], None, 95, 2048)
    assert row.tokens.shape == (2048,) and not row.tokens.any()


def test_lyrics_that_all_start_after_the_end_are_a_bad_request_naming_the_lines():
    lines = parse_lrc("[00:20.00] late\n[00:25.50] later\n").lines
    length = 256 * 2048 / 44100  # the bundle's whole length: 11.888616780045352 s
    with pytest.raises(BadInput) as info:
        build_token_row(lines, letters, length, 256, source="lyrics file /x/late.lrc")
    message = info.value.message
    assert message.startswith("lyrics file /x/late.lrc: every line starts at or after the song's end (11.89 s)")
    assert "line 1 at 20 s, line 2 at 25.5 s" in message
    assert "11.888" not in message and "--length" in info.value.remedy


def test_a_base_song_whose_only_line_is_the_unsung_last_one_is_a_bad_request():
    with pytest.raises(BadInput) as info:
        build_token_row([LyricLine(1.0, "a", 3), LyricLine(99.0, "b", 4)], None, 95, 2048)
    assert "line 3" in info.value.message and "nothing would be sung" in info.value.message
    assert "empty time stamp" in info.value.remedy


@pytest.mark.parametrize(("value", "text"), [(11.888616780045352, "11.89 s"), (3.0, "3 s"), (94.9, "94.9 s"),
                                             (0.004, "0 s"), (120.0, "120 s"), (0.5, "0.5 s")])
def test_times_are_rounded_for_people(value, text):
    from runner.timefmt import format_seconds

    assert format_seconds(value) == text


def test_lyrics_without_a_tokenizer_is_an_environment_problem():
    with pytest.raises(EnvironmentProblem):
        build_token_row([LyricLine(1.0, "a", 1)], None, 120, 6144)


def test_empty_text_line_becomes_a_lone_period():
    row = build_token_row(parse_lrc("[00:02.00]\n").lines, letters, 120, 6144)
    assert row.tokens[int(2.0 * 44100 / 2048)].item() == 2
    assert row.tokens.sum().item() == 2

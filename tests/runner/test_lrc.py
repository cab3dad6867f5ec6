"""The LRC parser: every stamp form, metadata, offsets, and a reason for each skipped line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from runner.lrc import LrcIssue, LyricLine, parse_lrc


def starts(parsed):
    return [(line.start, line.text, line.lineno) for line in parsed.lines]


@pytest.mark.parametrize(
    ("stamp", "seconds"),
    [
        ("[00:10]", 10.0),
        ("[00:10.5]", 10.5),
        ("[00:10.50]", 10.5),
        ("[00:10.500]", 10.5),
        ("[0:10.50]", 10.5),
        ("[01:02.25]", 62.25),
        ("[1:02.25]", 62.25),
        ("[00:10:50]", 10.5),  # colon before the hundredths, as some editors write
        ("[100:00.00]", 6000.0),
    ],
)
def test_every_stamp_form(stamp, seconds):
    parsed = parse_lrc(f"{stamp}Hello world\n")
    assert parsed.lines == (LyricLine(seconds, "Hello world", 1),)
    assert parsed.skipped == ()


def test_same_arithmetic_as_upstream_for_the_fixed_form():
    # upstream: int(mm) * 60 + float("ss.xx")
    parsed = parse_lrc("[01:07.33]a\n[02:59.99]b\n")
    assert [line.start for line in parsed.lines] == [1 * 60 + float("07.33"), 2 * 60 + float("59.99")]


def test_several_stamps_on_one_line_give_one_line_each_sorted():
    parsed = parse_lrc("[00:05.00]verse\n[00:10.00][00:30.00] chorus\n[00:20.00]bridge\n")
    assert starts(parsed) == [
        (5.0, "verse", 1),
        (10.0, "chorus", 2),
        (20.0, "bridge", 3),
        (30.0, "chorus", 2),
    ]


def test_sorting_is_stable_for_equal_starts():
    parsed = parse_lrc("[00:20.00]later\n[00:10.00]first\n[00:10.00]second\n")
    assert starts(parsed) == [(10.0, "first", 2), (10.0, "second", 3), (20.0, "later", 1)]


def test_bom_crlf_blank_lines_and_empty_text():
    text = "\ufeff[ti:Song]\r\n\r\n[00:01.00]one\r\n   \r\n[00:02.00]\r\n[00:03.00]  three  \r\n"
    parsed = parse_lrc(text)
    assert starts(parsed) == [(1.0, "one", 3), (2.0, "", 5), (3.0, "three", 6)]
    assert parsed.skipped == ()
    assert parsed.metadata == {"ti": "Song"}


def test_metadata_tags_are_collected_not_skipped():
    parsed = parse_lrc("[ar:Someone]\n[ti:Title]\n[al:Album]\n[by:me]\n[length: 03:10]\n[00:01.00]x\n")
    assert parsed.metadata == {"ar": "Someone", "ti": "Title", "al": "Album", "by": "me", "length": "03:10"}
    assert parsed.skipped == ()
    assert len(parsed.lines) == 1


def test_offset_is_honoured_positive_means_earlier_and_clamped_at_zero():
    parsed = parse_lrc("[offset:+500]\n[00:00.20]a\n[00:10.00]b\n")
    assert parsed.offset_ms == 500
    assert [line.start for line in parsed.lines] == [0.0, 9.5]
    later = parse_lrc("[00:10.00]b\n[offset:-250]\n")  # applies wherever it stands
    assert [line.start for line in later.lines] == [10.25]


def test_bad_offset_is_reported():
    parsed = parse_lrc("[offset:soon]\n[00:01.00]a\n")
    assert parsed.offset_ms == 0
    assert parsed.skipped == (LrcIssue(1, "[offset:soon] is not a whole number of milliseconds; ignored"),)


def test_every_skipped_line_has_its_number_and_reason():
    text = "\n".join(
        [
            "[00:01.00]ok",  # 1
            "no stamp here",  # 2
            "[Verse 1]",  # 3
            "[chorus:x]",  # 4
            "[00:75.00]bad seconds",  # 5
            "[0a:10.00]letters",  # 6
            "",  # 7
            "[00:02.00]ok too",  # 8
        ]
    )
    parsed = parse_lrc(text)
    assert [line.lineno for line in parsed.lines] == [1, 8]
    by_line = {issue.lineno: issue.message for issue in parsed.skipped}
    assert sorted(by_line) == [2, 3, 4, 5, 6]
    assert "no time stamp" in by_line[2]
    assert "[Verse 1]" in by_line[3] and "not a time stamp" in by_line[3]
    assert "unknown tag" in by_line[4]
    assert "60 or more seconds" in by_line[5]
    assert "[0a:10.00]" in by_line[6]


def test_word_timing_tags_are_removed():
    parsed = parse_lrc("[00:01.00]<00:01.00>Hel<00:01.50>lo\n")
    assert parsed.lines[0].text == "Hello"


def test_empty_input():
    parsed = parse_lrc("")
    assert parsed.lines == () and parsed.skipped == ()


def test_module_is_torch_free():
    code = "import sys, runner.lrc; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

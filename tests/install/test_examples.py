"""The README's first-song inputs: the example LRC is timed in the form DiffRhythm reads, inside a 95 s song,
and the command `drdoctor install` prints uses exactly these files."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from doctor.commands.install import _first_song_command
from runner.lrc import parse_lrc

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def test_example_lrc_is_timed_for_the_base_model():
    text = (EXAMPLES / "first-song.lrc").read_text(encoding="utf-8")
    parsed = parse_lrc(text)
    assert not parsed.skipped
    assert len(parsed.lines) == len(text.splitlines()) >= 8
    starts = [line.start for line in parsed.lines]
    assert starts == sorted(starts) and starts[-1] < 95
    assert all(re.fullmatch(r"\[\d\d:\d\d\.\d\d\].+", line) for line in text.splitlines())  # upstream's fixed form


def test_first_song_command_uses_the_examples():
    argv = shlex.split(_first_song_command())
    assert argv[1] == "generate" and argv[-2:] == ["--out", "first-song.wav"]
    assert Path(argv[argv.index("--lyrics") + 1]).resolve() == (EXAMPLES / "first-song.lrc").resolve()
    assert argv[argv.index("--style") + 1] == (EXAMPLES / "first-song.style.txt").read_text(encoding="utf-8").strip()


def test_readme_first_screen_is_the_printed_command():
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    first_screen = readme.split("## ", 1)[0]
    assert "./install.sh" in first_screen and "pytest" in first_screen
    printed = shlex.split(_first_song_command())
    line = next(l for l in first_screen.splitlines() if "drdoctor generate" in l)
    assert shlex.split(line)[1:] == printed[1:]

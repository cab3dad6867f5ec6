"""--regenerate spans: the forms users write, frames by upstream's expression, and every bad span named."""

from __future__ import annotations

import pytest

from runner.errors import BadInput
from runner.spans import parse_spans, span_frames


def frames_of(texts, song_s=30.0):
    frames = int(song_s * 44100 / 2048)
    return span_frames(parse_spans(texts), song_s, frames), frames


def test_forms_and_frames():
    spans, frames = frames_of(["10:15", "start:2", "20.5:end"])
    assert spans == [(0, int(2 * 44100 / 2048)), (int(10 * 44100 / 2048), int(15 * 44100 / 2048)),
                     (int(20.5 * 44100 / 2048), frames)]


def test_upstream_json_form_with_minus_one():
    spans, frames = frames_of(["[[10,15],[20,-1]]"])
    assert spans == [(215, 322), (430, frames)]
    assert frames_of(["[[-1, 5]]"])[0] == [(0, 107)]


@pytest.mark.parametrize(("texts", "named"), [
    (["10"], "'10'"),
    (["a:5"], "'a'"),
    (["5:3"], "'5:3'"),
    (["-3:5"], "negative"),
    (["[[1,2],[3]]"], "pairs"),
    (["[[1,2"], "not valid JSON"),
    (["nan:5"], "'nan:5'"),
])
def test_bad_syntax_names_the_span(texts, named):
    with pytest.raises(BadInput) as info:
        parse_spans(texts)
    assert named in info.value.message and info.value.remedy


@pytest.mark.parametrize(("texts", "named"), [
    (["31:end"], "after the song's end"),
    (["10:40"], "ends at 40 s"),
    (["10:20", "15:25"], "overlap"),
    (["10:10.01"], "shorter than one latent frame"),
])
def test_spans_outside_or_overlapping_are_named(texts, named):
    with pytest.raises(BadInput) as info:
        frames_of(texts)
    assert named in info.value.message
    assert texts[0] in info.value.message


@pytest.mark.parametrize(("span", "said"), [("4.5:5", "starts at 4.5 s, at or after the end of this edit"),
                                            ("1:5", "ends at 5 s, after the end of this edit")])
def test_an_edit_shorter_than_its_song_names_its_own_end_not_the_songs(span, said):
    from runner.request import Request
    from runner.song_plan import plan_song

    frames = int(4 * 44100 / 2048)  # --length 4 of a 6 s song
    request = Request(edit="/songs/six.wav", regenerate=(span,), bundle="/b")
    with pytest.raises(BadInput) as info:
        plan_song(request, 6.0, 4.0, frames)
    message = info.value.message
    assert said in message and "(3.99 s of the 6 s song)" in message
    assert "song's end" not in message


def test_span_times_are_rounded_for_people():
    with pytest.raises(BadInput) as info:
        span_frames(parse_spans(["1:12"]), 256 * 2048 / 44100, 256)
    assert "after the song's end (11.89 s)" in info.value.message

"""The resume table (runner/stages/resume.py): what each resume point reuses and which stages it skips."""

from __future__ import annotations

from runner.artifacts import AUDIO_RAW, LATENTS
from runner.events import STAGES
from runner.stages.resume import RESUME_POINTS, resume_point

MODEL_STAGES = {"lyrics", "style", "sample", "decode"}  # the stages that use a loaded model part


def test_a_point_that_skips_load_skips_every_stage_that_needs_a_model():
    for point in RESUME_POINTS:
        assert ("load" in point.skips) == (point.model_parts == ()), point.name
        if "load" in point.skips:
            assert MODEL_STAGES <= set(point.skips), point.name
        assert list(point.skips) == [s for s in STAGES if s in point.skips]
        assert not {"preflight", "validate", "write"} & set(point.skips)  # always judged and written again


def test_the_furthest_artifact_in_the_folder_wins(tmp_path):
    assert resume_point(tmp_path) is None
    (tmp_path / LATENTS).write_bytes(b"x")
    point = resume_point(tmp_path)
    assert point is not None and point.name == "latents" and point.model_parts == ("vae",)
    (tmp_path / AUDIO_RAW).write_bytes(b"x")
    point = resume_point(tmp_path)
    assert point is not None and point.name == "audio_raw" and point.model_parts == ()

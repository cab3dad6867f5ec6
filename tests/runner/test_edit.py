"""Song editing (--edit SONG --regenerate ...) and continuation (--continue SONG --length L) on the tiny bundle,
with real song files: the kept frames are the reference latent bit for bit, the spans are generated."""

from __future__ import annotations

import json
import wave

import pytest
import torch

from runner.bundle.load import load_bundle
from runner.decode import plan_windows
from runner.encode import draw_latent, encode_windows
from runner.reference import read_song
from runner.wavio import write_wav_atomic

from _runner_helpers import write_song

RATE, SPF = 44100, 2048


def frame(seconds: float) -> int:
    return int(seconds * RATE / SPF)


def saved(run, name: str) -> torch.Tensor:
    data = torch.load(run.folder / name, weights_only=True)
    return data["latents"] if isinstance(data, dict) else data


def test_edit_keeps_every_frame_outside_the_spans_and_regenerates_them(run_runner, tmp_path):
    song = write_song(tmp_path / "song-in.wav", 6.0)
    r = run_runner("--edit", str(song), "--regenerate", "1:2", "--regenerate", "4.5:end", "--length", "6")
    assert r.code == 0, r.stderr
    latents, reference = saved(r, "latents.pt"), saved(r, "reference_latents.pt")
    frames = frame(6)
    assert latents.shape == reference.shape == (1, frames, 64)
    inside = torch.zeros(frames, dtype=torch.bool)
    inside[frame(1) : frame(2)] = True
    inside[frame(4.5) :] = True
    assert torch.equal(latents[0, ~inside], reference[0, ~inside])  # bit-identical
    changed = (latents[0, inside] - reference[0, inside]).abs().amax(dim=1)
    assert bool((changed > 1e-3).all())  # every regenerated frame differs from the song's
    encode_progress = [e for e in r.of("stage_progress") if e["stage"] == "load"]
    assert encode_progress and encode_progress[-1]["part"] == "encode" and encode_progress[-1]["done"] == encode_progress[-1]["total"]
    manifest = json.loads((r.folder / "manifest.json").read_text())
    assert manifest["song"]["mode"] == "edit" and manifest["song"]["spans_frames"] == [[frame(1), frame(2)], [frame(4.5), frames]]
    with wave.open(str(r.out)) as w:
        assert w.getnframes() == frames * SPF


def test_edit_length_defaults_to_the_song(run_runner, tmp_path):
    song = write_song(tmp_path / "in.wav", 5.0, rate=22050, channels=1)  # mono, another rate: made 44.1 kHz stereo
    r = run_runner("--edit", str(song), "--regenerate", "[[0, 1], [3, -1]]")  # no --length: the song's 5 s
    assert r.code == 0, r.stderr
    assert saved(r, "latents.pt").shape[1] == frame(5)


def test_continue_keeps_the_song_and_generates_the_rest(run_runner, tmp_path):
    song = write_song(tmp_path / "start.wav", 4.0)
    r = run_runner("--continue", str(song), "--length", "9")
    assert r.code == 0, r.stderr
    latents, reference = saved(r, "latents.pt"), saved(r, "reference_latents.pt")
    kept = frame(4)
    assert latents.shape == (1, frame(9), 64)
    assert torch.equal(latents[:, :kept], reference[:, :kept])
    assert bool((reference[:, kept:] == 0).all())  # the reference stops where the song stops
    assert float(latents[:, kept:].std()) > 0.1  # and the new part is generated
    with wave.open(str(r.out)) as w:
        assert w.getnframes() == frame(9) * SPF


def test_encode_in_windows_equals_whole_and_the_draw_is_seeded(bundle_dir, tmp_path):
    comps = load_bundle(bundle_dir, device=torch.device("cpu"), dtype=torch.float32, parts=("vae",))
    audio = read_song(str(write_song(tmp_path / "long.wav", 11.0)), "song", frame(11) * SPF)
    assert audio.shape == (2, frame(11) * SPF)
    assert float(audio.abs().max()) == pytest.approx(10 ** (-6 / 20), rel=1e-5)  # -6 dBFS
    progress = []
    windows = encode_windows(comps.vae, audio, 128, 32, lambda d, t: progress.append((d, t)))
    whole = encode_windows(comps.vae, audio, 10_000, 0)
    count = len(plan_windows(frame(11), 128, 32))
    assert count == 3 and progress == [(n, count) for n in range(1, count + 1)]
    assert windows.shape == (1, 128, frame(11))
    torch.testing.assert_close(windows, whole)
    a, b = draw_latent(windows, 5), draw_latent(windows, 5)
    assert torch.equal(a, b) and not torch.equal(a, draw_latent(windows, 6))
    mean, scale = windows.chunk(2, dim=1)
    z = (a.transpose(1, 2) - mean) / (torch.nn.functional.softplus(scale) + 1e-4)
    assert abs(float(z.mean())) < 0.05 and abs(float(z.std()) - 1) < 0.05


@pytest.fixture
def songs(tmp_path):
    write_song(tmp_path / "six.wav", 6.0)
    write_song(tmp_path / "short.wav", 2.0)
    (tmp_path / "garbage.wav").write_bytes(b"RIFF\x00\x00garbage" * 50)
    (tmp_path / "garbage.flac").write_bytes(b"fLaC garbage" * 50)
    write_wav_atomic(tmp_path / "silent.wav", torch.zeros(2, RATE * 6))
    return tmp_path


@pytest.mark.parametrize(("args", "said"), [
    (["--edit", "{d}/six.wav", "--regenerate", "5:20"], "'5:20' ends at 20 s"),
    (["--edit", "{d}/six.wav", "--regenerate", "1:3", "--regenerate", "2:4"], "overlap"),
    (["--edit", "{d}/six.wav", "--regenerate", "7:end"], "'7:end' starts at 7 s"),
    (["--edit", "{d}/short.wav", "--regenerate", "0:1", "--length", "5"], "{d}/short.wav is 2 s long"),
    (["--edit", "{d}/garbage.wav", "--regenerate", "0:1"], "cannot read song to edit {d}/garbage.wav"),
    (["--edit", "{d}/garbage.flac", "--regenerate", "0:1"], "{d}/garbage.flac"),
    (["--edit", "{d}/missing.wav", "--regenerate", "0:1"], "{d}/missing.wav does not exist"),
    (["--edit", "{d}/silent.wav", "--regenerate", "0:1"], "{d}/silent.wav: the song is silent"),
    (["--edit", "{d}/six.wav"], "--edit needs at least one --regenerate"),
    (["--regenerate", "0:1"], "--regenerate is only for --edit"),
    (["--continue", "{d}/six.wav", "--length", "5"], "{d}/six.wav is already 6 s long"),
    (["--continue", "{d}/six.wav", "--edit", "{d}/six.wav", "--regenerate", "0:1"], "not allowed with"),
])
def test_bad_edit_inputs_are_exit_2_with_no_output(run_runner, songs, args, said):
    r = run_runner(*[a.format(d=songs) for a in args])
    assert r.code == 2, r.stderr
    assert said.format(d=songs) in r.error["message"], r.error["message"]
    assert not r.out.exists() and not list(songs.glob(".song.wav*"))

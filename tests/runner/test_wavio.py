"""Guarded normalisation and atomic WAV writing."""

import array
import wave

import pytest
import torch

from runner.errors import InvalidOutput
from runner.wavio import normalise, write_wav_atomic


def test_normalise_to_minus_one_dbfs():
    out = normalise(torch.tensor([[0.1, -0.05], [0.02, 0.0]]))
    assert abs(float(out.abs().max()) - 10 ** (-1 / 20)) < 1e-6


@pytest.mark.parametrize("audio", [torch.zeros(2, 100), torch.full((2, 100), 1e-7), torch.tensor([[float("nan"), 0.5]])])
def test_normalise_refuses_silence_and_nan(audio):
    with pytest.raises(InvalidOutput):
        normalise(audio)


def test_write_reads_back(tmp_path):
    audio = normalise(torch.sin(torch.arange(44100.0) / 10).repeat(2, 1) * 0.3)
    path = tmp_path / "a.wav"
    size = write_wav_atomic(path, audio)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 2, 44100, 44100)
        frames = w.readframes(w.getnframes())
    assert size == path.stat().st_size == 44 + 44100 * 4
    samples = array.array("h", frames)
    peak = max(abs(v) for v in samples)
    assert peak == round(10 ** (-1 / 20) * 32767) == 29204  # the loudest sample sits exactly at -1 dBFS
    assert samples[0::2] == samples[1::2]  # both channels, interleaved
    assert list(tmp_path.iterdir()) == [path]


def test_failure_mid_write_leaves_nothing(tmp_path):
    path = tmp_path / "a.wav"

    def boom(done, total):
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        write_wav_atomic(path, torch.zeros(2, 5000), chunk_frames=1000, on_chunk=boom)
    assert list(tmp_path.iterdir()) == []


def test_existing_file_replaced_only_when_complete(tmp_path):
    path = tmp_path / "a.wav"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        write_wav_atomic(path, torch.zeros(2, 5000), chunk_frames=1000,
                         on_chunk=lambda d, t: (_ for _ in ()).throw(RuntimeError("x")))
    assert path.read_bytes() == b"old"
    write_wav_atomic(path, torch.zeros(2, 5000))
    assert path.stat().st_size == 44 + 5000 * 4

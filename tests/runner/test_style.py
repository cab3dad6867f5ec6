"""The style vector: text and clip styles through a real small encoder, the disk cache, clip refusals."""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from runner.clip import reference_excerpt, resample
from runner.components import Components
from runner.errors import BadInput, EnvironmentProblem
from runner.style import compute_style


class TinyMuLan(torch.nn.Module):
    """A real (small) encoder with MuQ-MuLan's call shape: texts=[str] or wavs=[1, n] -> [1, 512]."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.chars = torch.nn.Embedding(256, 512)
        self.audio = torch.nn.Linear(100, 512)
        self.seen_wavs: list[torch.Tensor] = []

    def forward(self, texts=None, wavs=None):
        if texts is not None:
            ids = torch.tensor([[min(ord(c), 255) for c in texts[0]]])
            return self.chars(ids).mean(dim=1)
        self.seen_wavs.append(wavs)
        frames = wavs[:, : 2400 * 100].reshape(1, 100, -1).abs().mean(dim=2)
        return self.audio(frames)


@dataclass
class Req:
    style: str | None = None
    ref_audio: str | None = None


class CountingFactory:
    def __init__(self) -> None:
        self.calls = 0
        self.encoder = TinyMuLan()

    def __call__(self):
        self.calls += 1
        return self.encoder


def components(factory, encoder_id="tiny@1") -> Components:
    return Components(
        transformer=torch.nn.Linear(1, 1),
        max_frames=2048,
        vae=None,
        tokenize=None,
        negative_style=torch.zeros(1, 512),
        style_encoder_factory=factory,
        style_encoder_id=encoder_id,
    )


def write_wav(path: Path, signal: np.ndarray, rate: int, width: int = 2) -> Path:
    """signal: [channels, n] floats in [-1, 1]."""
    channels = signal.shape[0]
    inter = np.clip(signal.T.reshape(-1), -1, 1)
    if width == 2:
        raw = (inter * 32767).astype("<i2").tobytes()
    elif width == 1:
        raw = (inter * 127 + 128).astype(np.uint8).tobytes()
    elif width == 3:
        ints = (inter * (2**23 - 1)).astype("<i4")
        raw = b"".join(int(v).to_bytes(4, "little", signed=True)[:3] for v in ints)
    else:
        raw = (inter * (2**31 - 1)).astype("<i4").tobytes()
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(raw)
    return path


def tone(seconds: float, rate: int, freq: float = 440.0, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.tile(0.5 * np.sin(2 * np.pi * freq * t), (channels, 1))


def test_text_style_is_cached_and_the_second_call_never_builds_the_encoder(tmp_path):
    factory = CountingFactory()
    first, cached = compute_style(Req(style="pop, piano"), components(factory), tmp_path)
    assert not cached and factory.calls == 1
    assert first.shape == (1, 512) and first.dtype == torch.float32

    factory2 = CountingFactory()
    second, cached2 = compute_style(Req(style="pop, piano"), components(factory2), tmp_path)
    assert cached2 and factory2.calls == 0
    assert torch.equal(first, second)


def test_the_cache_key_includes_the_prompt_and_the_encoder(tmp_path):
    factory = CountingFactory()
    compute_style(Req(style="pop"), components(factory), tmp_path)
    compute_style(Req(style="rock"), components(factory), tmp_path)
    compute_style(Req(style="pop"), components(factory, encoder_id="tiny@2"), tmp_path)
    assert factory.calls == 3
    compute_style(Req(style="rock"), components(factory), tmp_path)
    assert factory.calls == 3


def test_a_damaged_cache_entry_is_recomputed(tmp_path):
    factory = CountingFactory()
    first, _ = compute_style(Req(style="jazz"), components(factory), tmp_path)
    (entry,) = tmp_path.glob("*.pt")
    entry.write_bytes(b"garbage")
    again, cached = compute_style(Req(style="jazz"), components(factory), tmp_path)
    assert not cached and factory.calls == 2 and torch.equal(first, again)


def test_clip_style_reads_the_middle_ten_seconds_and_is_cached(tmp_path):
    clip = write_wav(tmp_path / "ref.wav", tone(13.0, 44100), 44100)
    factory = CountingFactory()
    vector, cached = compute_style(Req(ref_audio=str(clip)), components(factory), tmp_path / "cache")
    assert not cached and factory.calls == 1 and vector.shape == (1, 512)
    (wav,) = factory.encoder.seen_wavs
    assert wav.shape == (1, 240000) and wav.dtype == torch.float32

    factory2 = CountingFactory()
    again, cached2 = compute_style(Req(ref_audio=str(clip)), components(factory2), tmp_path / "cache")
    assert cached2 and factory2.calls == 0 and torch.equal(vector, again)


def test_short_clip_is_refused_naming_the_file_and_its_length(tmp_path):
    clip = write_wav(tmp_path / "short.wav", tone(7.5, 22050), 22050)
    factory = CountingFactory()
    with pytest.raises(BadInput) as info:
        compute_style(Req(ref_audio=str(clip)), components(factory), tmp_path / "cache")
    assert str(clip) in info.value.message and "7.5 s long" in info.value.message
    assert factory.calls == 0


def test_unreadable_clip_says_which_formats_work(tmp_path):
    clip = tmp_path / "song.mp3"
    clip.write_bytes(b"ID3\x03\x00garbage" * 100)
    with pytest.raises(BadInput) as info:
        compute_style(Req(ref_audio=str(clip)), components(CountingFactory()), tmp_path / "cache")
    assert str(clip) in info.value.message and "PCM WAV" in info.value.message


def test_missing_clip_and_no_style_are_bad_input(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        compute_style(Req(ref_audio=str(tmp_path / "none.wav")), components(CountingFactory()), tmp_path)
    with pytest.raises(BadInput, match="no style"):
        compute_style(Req(), components(CountingFactory()), tmp_path)


def test_no_encoder_and_no_cache_is_an_environment_problem(tmp_path):
    with pytest.raises(EnvironmentProblem):
        compute_style(Req(style="pop"), components(None), tmp_path)


def test_excerpt_is_the_middle(tmp_path):
    rate = 24000
    signal = np.zeros((1, 30 * rate))
    signal[0, 10 * rate : 20 * rate] = 0.5  # only the middle 10 s are not silent
    clip = write_wav(tmp_path / "mid.wav", signal, rate)
    wav = reference_excerpt(clip)
    assert wav.shape == (1, 240000)
    assert torch.allclose(wav, torch.full_like(wav, 0.5), atol=1e-4)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_pcm_widths(tmp_path, width):
    rate = 24000
    signal = tone(10.0, rate, channels=1)
    wav = reference_excerpt(write_wav(tmp_path / f"w{width}.wav", signal, rate, width=width))
    tolerance = {1: 2e-2, 2: 1e-4, 3: 1e-6, 4: 1e-6}[width]
    assert torch.allclose(wav[0], torch.from_numpy(signal[0]).float(), atol=tolerance)


def test_stereo_is_mixed_to_mono(tmp_path):
    rate = 24000
    signal = np.stack([np.full(10 * rate, 0.5), np.full(10 * rate, -0.25)])
    wav = reference_excerpt(write_wav(tmp_path / "st.wav", signal, rate))
    assert torch.allclose(wav, torch.full_like(wav, 0.125), atol=1e-4)


@pytest.mark.parametrize("orig", [44100, 48000, 16000])
def test_resample_keeps_a_tone(orig):
    seconds, freq = 1.0, 1000.0
    t = torch.arange(int(orig * seconds), dtype=torch.float64) / orig
    x = torch.sin(2 * math.pi * freq * t).float()[None]
    y = resample(x, orig, 24000)
    assert y.shape == (1, math.ceil(24000 * x.shape[1] / orig))
    t2 = torch.arange(y.shape[1], dtype=torch.float64) / 24000
    expected = torch.sin(2 * math.pi * freq * t2).float()
    inner = slice(200, -200)  # away from the zero-padded edges
    assert (y[0, inner] - expected[inner]).abs().max() < 2e-2

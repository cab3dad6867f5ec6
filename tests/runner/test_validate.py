"""What the validate stage calls music, silence, noise and damage."""

import math

import torch

from runner.validate import check_audio, check_latents, spectral_flatness

SR = 44100


def by_name(checks):
    return {c.name: c for c in checks}


def chord(seconds=2.0, amp=0.3):
    t = torch.arange(int(SR * seconds)) / SR
    mono = sum(torch.sin(2 * math.pi * f * t) for f in (220.0, 277.2, 329.6)) * amp / 3
    return torch.stack([mono, mono * 0.9])


def failed(checks):
    return [c.name for c in checks if c.failed]


def test_bundle_decode_is_music(bundle_dir):
    vae = torch.jit.load(str(bundle_dir / "vae_model.pt"))
    with torch.no_grad():
        audio = vae.decode_export(torch.randn(1, 64, 100))[0]
    checks = check_audio(audio)
    assert failed(checks) == []
    assert by_name(checks)["spectral_flatness"].value < 0.1


def test_tones_pass_and_report_values():
    checks = by_name(check_audio(chord()))
    assert all(not c.failed for c in checks.values())
    assert abs(checks["rms_dbfs"].value - (-20.0)) < 6
    assert checks["silent_share"].value == 0.0


def test_silence_fails():
    assert failed(check_audio(torch.zeros(2, SR))) == ["peak"]
    assert failed(check_audio(torch.full((2, SR), 1e-6))) == ["peak"]


def test_mostly_silent_fails():
    audio = torch.zeros(2, SR * 4)
    audio[:, : SR // 4] = chord(0.25)
    assert "silent_share" in failed(check_audio(audio))


def test_white_noise_fails():
    noise = torch.rand(2, SR * 2, generator=torch.Generator().manual_seed(0)) - 0.5
    assert failed(check_audio(noise)) == ["spectral_flatness"]
    assert by_name(check_audio(noise))["spectral_flatness"].severity == "fail"
    assert 0.5 < spectral_flatness(noise.mean(0)) < 0.65


def test_nan_and_inf_fail():
    audio = chord()
    audio[0, 100] = float("nan")
    assert failed(check_audio(audio)) == ["audio_finite"]
    audio[0, 100] = float("inf")
    assert failed(check_audio(audio)) == ["audio_finite"]


def test_dc_and_clipping_only_warn():
    checks = by_name(check_audio(chord(amp=3.0).clamp(-1, 1) + 0.0))
    assert not checks["clipping_share"].ok and checks["clipping_share"].severity == "warn"
    checks = by_name(check_audio(chord() + 0.2))
    assert not checks["dc_offset"].ok and not checks["dc_offset"].failed


def test_latents():
    assert failed(check_latents(torch.randn(1, 50, 64))) == []
    assert failed(check_latents(torch.zeros(1, 50, 64))) == ["latents_std"]
    bad = torch.randn(1, 50, 64)
    bad[0, 3, 3] = float("nan")
    assert failed(check_latents(bad)) == ["latents_finite"]


def test_half_silent_only_warns():
    audio = torch.zeros(2, SR * 2)
    audio[:, : int(SR * 0.8)] = chord(0.8)
    check = by_name(check_audio(audio))["silent_share"]
    assert not check.ok and not check.failed and check.severity == "warn"
    assert 0.5 < check.value < 0.9

"""Our chunked VAE decode and encode against upstream's `decode_audio` / `encode_audio(chunked=True)`, read from a
real checkout (skipped unless DRDOCTOR_DIFFRHYTHM_ROOT is set; only torch is needed).

Two small real VAEs that are not frame-local, as DiffRhythm's is not: one whose audio names the window that
decoded each frame, one with a convolution over neighbouring frames. For many frame counts, whole numbers of
hops and not, the audio must be upstream's, sample for sample.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from _upstream_code import upstream_functions

from runner.decode import decode

ROOT = os.environ.get("DRDOCTOR_DIFFRHYTHM_ROOT")
pytestmark = pytest.mark.skipif(not ROOT, reason="DRDOCTOR_DIFFRHYTHM_ROOT is not set (a DiffRhythm checkout)")

FRAMES = [1, 100, 128, 129, 200, 223, 224, 225, 300, 321, 700, 1000, 2048, 2100]


class WindowRevealingVAE(torch.nn.Module):
    """Channel 0: the window's first latent value; channel 1: the frame's own (per frame, 2048 samples)."""

    def decode_export(self, z: torch.Tensor) -> torch.Tensor:
        first = z[:, 0, :1].expand(-1, z.shape[2])
        return torch.stack([first, z[:, 0, :]], dim=1).repeat_interleave(2048, dim=2)


class ConvVAE(torch.nn.Module):
    """A frame's audio depends on its neighbours (kernel 9) and on the whole window (its mean), like attention."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.mix = torch.nn.Conv1d(64, 2 * 8, kernel_size=9, padding=4)
        self.context = torch.nn.Linear(64, 2 * 8)
        self.up = torch.nn.Upsample(scale_factor=256)

    @torch.no_grad()
    def decode_export(self, z: torch.Tensor) -> torch.Tensor:
        y = torch.tanh(self.mix(z.contiguous()) + self.context(z.mean(dim=2))[:, :, None])  # [b, 16, n]
        return self.up(y).reshape(z.shape[0], 2, 8, -1).permute(0, 1, 3, 2).reshape(z.shape[0], 2, -1)


@pytest.fixture(scope="module")
def upstream_decode():
    return upstream_functions(Path(ROOT).resolve(), ("decode_audio",))["decode_audio"]


@pytest.mark.parametrize("frames", FRAMES)
def test_window_of_every_frame_is_upstreams(upstream_decode, frames):
    latents = torch.arange(frames, dtype=torch.float32)[None, :, None].repeat(1, 1, 64)
    vae = WindowRevealingVAE()
    theirs = upstream_decode(latents.transpose(1, 2), vae, chunked=True)[0]
    ours = decode(vae, latents, chunked=True)
    assert ours.shape == theirs.shape == (2, frames * 2048)
    mismatched = [f for f in range(frames) if not torch.equal(ours[:, f * 2048], theirs[:, f * 2048])]
    assert not mismatched, f"frames {mismatched[:5]}... come from another window than upstream's"


@pytest.mark.parametrize("frames", FRAMES)
def test_audio_of_a_convolutional_vae_is_upstreams(upstream_decode, frames):
    latents = torch.randn(1, frames, 64, generator=torch.Generator().manual_seed(frames))
    vae = ConvVAE()
    theirs = upstream_decode(latents.transpose(1, 2), vae, chunked=True)[0]
    ours = decode(vae, latents, chunked=True)
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-6), float((ours - theirs).abs().max())


class WindowRevealingEncoder(torch.nn.Module):
    """encode_export [b, 2, n * 2048] -> [b, 128, n]: channel 0 the window's first sample, 1 each frame's own."""

    def encode_export(self, audio: torch.Tensor) -> torch.Tensor:
        frames = audio[:, 0, ::2048]  # [b, n]
        first = frames[:, :1].expand(-1, frames.shape[1])
        return torch.cat([first[:, None], frames[:, None], torch.zeros(audio.shape[0], 126, frames.shape[1])], dim=1)


@pytest.mark.parametrize("frames", [200, 225, 300, 1000])
def test_chunked_encode_takes_each_frame_from_upstreams_window(frames):
    from runner.encode import encode_windows

    encode_audio = upstream_functions(Path(ROOT).resolve(), ("encode_audio",))["encode_audio"]
    audio = torch.arange(frames, dtype=torch.float32).repeat_interleave(2048)[None].repeat(2, 1)
    vae = WindowRevealingEncoder()
    theirs = encode_audio(audio[None], vae, chunked=True)
    ours = encode_windows(vae, audio, 128, 32)
    assert torch.equal(ours[:, :2], theirs[:, :2].float())

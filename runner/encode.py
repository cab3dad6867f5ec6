"""VAE encode of a song -> the reference latent that song editing and continuation keep (DIFFRHYTHM.md).

The VAE's `encode_export(audio [1, 2, n])` gives [1, 128, n / 2048]: a mean and a scale per latent
channel. The song is encoded in overlapping windows (the same plan as the chunked decode: each window
keeps its middle), and one latent is drawn from mean + noise * (softplus(scale) + 1e-4), with our own
seeded generator so the reference latent of a run can be reproduced.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from runner.components import LATENT_CHANNELS, SAMPLES_PER_FRAME
from runner.decode import plan_windows
from runner.errors import EnvironmentProblem

MIN_STD = 1e-4


@torch.no_grad()
def encode_windows(vae: Any, audio: torch.Tensor, window: int = 128, overlap: int = 32,
                   on_chunk: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """audio [2, frames * 2048] -> the encoder's output [1, 128, frames] (mean and scale), float32 on the CPU."""
    frames = audio.shape[1] // SAMPLES_PER_FRAME
    x = audio[:, : frames * SAMPLES_PER_FRAME].float().unsqueeze(0)
    out: torch.Tensor | None = None
    plan = plan_windows(frames, window, overlap)
    for n, (ws, we, ks, ke) in enumerate(plan):
        part = vae.encode_export(x[:, :, ws * SAMPLES_PER_FRAME : we * SAMPLES_PER_FRAME])
        if part.ndim != 3 or part.shape[1] != 2 * LATENT_CHANNELS or part.shape[2] != we - ws:
            raise EnvironmentProblem(
                f"the VAE's encode_export gave shape {tuple(part.shape)} for {we - ws} frames; expected "
                f"[1, {2 * LATENT_CHANNELS}, {we - ws}] (mean and scale)",
                "use DiffRhythm's own vae_model.pt (ASLP-lab/DiffRhythm-vae)",
            )
        if out is None:
            out = torch.zeros(1, part.shape[1], frames, dtype=torch.float32)
        out[:, :, ks:ke] = part[:, :, ks - ws : ke - ws].float().cpu()
        if on_chunk is not None:
            on_chunk(n + 1, len(plan))
    assert out is not None
    return out


def draw_latent(moments: torch.Tensor, seed: int) -> torch.Tensor:
    """[1, 128, frames] -> one latent [1, frames, 64] drawn from N(mean, (softplus(scale) + 1e-4)^2)."""
    mean, scale = moments.float().chunk(2, dim=1)
    std = torch.nn.functional.softplus(scale) + MIN_STD
    noise = torch.randn(mean.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)
    return (mean + noise * std).transpose(1, 2).contiguous()

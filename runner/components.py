"""What the pipeline needs from a DiffRhythm install, whatever provides it (a real checkout or the tiny bundle)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

SAMPLE_RATE = 44100
SAMPLES_PER_FRAME = 2048  # VAE downsampling: one latent frame is 2048 samples
LATENT_CHANNELS = 64
BASE_MAX_FRAMES = 2048  # 95 s songs
FULL_MAX_FRAMES = 6144  # 96-285 s songs


@dataclass
class Components:
    # The DiT: forward(x=, cond=, text=, time=, drop_audio_cond=, drop_text=, drop_prompt=,
    # style_prompt=, start_time=, duration=) -> [b, frames, 64]
    transformer: torch.nn.Module
    max_frames: int
    # TorchScript VAE with decode_export(latents [b, 64, frames]) -> audio [b, 2, frames * 2048]
    vae: Any
    # text -> g2p phone ids (before the +1 shift); None for an instrumental-only bundle
    tokenize: Callable[[str], list[int]] | None
    # negative style for guidance, [1, 512]
    negative_style: torch.Tensor
    # Builds the style encoder only when a style must be computed (the cache may make it unnecessary):
    # returns a callable taking texts=[str] or wavs=Tensor[1, n] at 24 kHz -> [1, 512]
    style_encoder_factory: Callable[[], Callable[..., torch.Tensor]] | None
    # identity of the style encoder's weights, part of the style cache key
    style_encoder_id: str
    # {"role": ..., "path": ..., "bytes": ..., "sha256": ...} for the manifest
    files: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

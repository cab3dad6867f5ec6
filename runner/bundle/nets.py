"""The tiny bundle's networks: DiffRhythm-shaped stand-ins with the same call interfaces.

- `TinyDiT`: the DiT's forward keywords (x, cond, text, time, drop_audio_cond, drop_text,
  drop_prompt, style_prompt, start_time, duration) -> [b, frames, 64]; sizes are parameters, so the
  benches can build DiT-like matmul sizes with it.
- `TinyCFM`: holds the DiT as `.transformer` so checkpoint keys read `transformer.*` like upstream's.
- `TinyVAE`: TorchScript-able, `decode_export(latents [b, 64, f]) -> audio [b, 2, f * 2048]` and
  `encode_export(audio [b, 2, f * 2048]) -> [b, 128, f]` (mean and scale, as DiffRhythm's). It decodes each latent frame into a chord: a bank of sinusoids whose
  frequencies are whole multiples of 44100 / 2048 Hz (every partial completes whole cycles in one frame,
  so windows decoded apart join without seams) with amplitudes driven by the latent channels.
- `TinyMuLan`: the MuQ-MuLan call interface: `encoder(texts=[str])` or `encoder(wavs=[1, n] @ 24 kHz)`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LATENT = 64
STYLE = 512
FRAME = 2048
# harmonic-ish partials (multiples of 21.53 Hz): 86 Hz ... 1.5 kHz
PARTIALS = (4, 5, 6, 8, 10, 12, 15, 16, 18, 20, 24, 25, 27, 30, 32, 36, 40, 45, 48, 50, 54, 60, 64, 72)


def sinusoidal(t: torch.Tensor, dim: int) -> torch.Tensor:
    """[b] -> [b, dim] sinusoidal features of a scalar in [0, 1]."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32) * (-math.log(10000.0) / max(half - 1, 1)))
    arg = t.float().reshape(-1, 1) * 1000.0 * freqs.reshape(1, -1)
    return torch.cat([arg.sin(), arg.cos()], dim=-1)


class TimeEmbed(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        dtype = self.mlp[0].weight.dtype
        return self.mlp(sinusoidal(t, self.dim).to(dtype))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, ff_mult: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        self.out = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, dim * ff_mult), nn.GELU(), nn.Linear(dim * ff_mult, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = x + self.out(att)
        return x + self.ff(self.norm2(x))


class TinyDiT(nn.Module):
    def __init__(self, dim: int = 64, depth: int = 2, heads: int = 4, ff_mult: int = 2, text_dim: int = 32,
                 text_num_embeds: int = 64, cond_dim: int = 64, max_frames: int = 128):
        super().__init__()
        self.dim, self.depth, self.max_frames = dim, depth, max_frames
        self.time_embed = TimeEmbed(cond_dim)
        self.start_time_embed = TimeEmbed(cond_dim)
        self.duration_time_embed = TimeEmbed(cond_dim)
        self.text_embed = nn.Embedding(text_num_embeds + 1, text_dim)
        self.style_proj = nn.Linear(STYLE, cond_dim)
        self.input_proj = nn.Linear(LATENT * 2 + text_dim + cond_dim * 2, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, ff_mult) for _ in range(depth))
        self.text_fusion = nn.ModuleList(nn.Linear(text_dim, dim) for _ in range(depth // 2))
        self.norm_out = nn.LayerNorm(dim)
        self.modulation = nn.Linear(cond_dim, dim * 2)
        self.proj_out = nn.Linear(dim, LATENT)

    def forward(self, x, cond, text, time, drop_audio_cond, drop_text, drop_prompt=False,
                style_prompt=None, start_time=None, duration=None):
        batch, seq_len = x.shape[0], x.shape[1]
        if time.ndim == 0:
            time = time.repeat(batch)
        c = self.time_embed(time) + self.start_time_embed(start_time) + self.duration_time_embed(duration)
        if drop_text:
            text = torch.zeros_like(text)
        if text.shape[1] < seq_len:
            text = F.pad(text, (0, seq_len - text.shape[1]))
        text_embed = self.text_embed(text[:, :seq_len].clamp(0, self.text_embed.num_embeddings - 1))
        if drop_prompt:
            style_prompt = torch.zeros_like(style_prompt)
        style = self.style_proj(style_prompt.to(self.style_proj.weight.dtype))
        if drop_audio_cond:
            cond = torch.zeros_like(cond)
        frames = lambda v: v.unsqueeze(1).expand(batch, seq_len, v.shape[-1])  # noqa: E731
        h = self.input_proj(torch.cat([x, cond, text_embed, frames(style), frames(c)], dim=-1))
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i < len(self.text_fusion):
                h = h + self.text_fusion[i](text_embed)
        scale, shift = self.modulation(F.silu(c)).unsqueeze(1).chunk(2, dim=-1)
        return self.proj_out(self.norm_out(h) * (1 + scale) + shift)


class TinyCFM(nn.Module):
    def __init__(self, transformer: nn.Module):
        super().__init__()
        self.transformer = transformer


class TinyVAE(nn.Module):
    def __init__(self):
        super().__init__()
        p = len(PARTIALS)
        self.mix = nn.Parameter(torch.randn(2, LATENT, p) / math.sqrt(LATENT))
        self.bias = nn.Parameter(torch.full((2, p), -1.0))
        j = torch.arange(FRAME, dtype=torch.float32)
        m = torch.tensor(PARTIALS, dtype=torch.float32)
        # a gentle spectral tilt: higher partials quieter
        self.register_buffer("basis", torch.sin(2 * math.pi * m.reshape(-1, 1) * j / FRAME) / m.reshape(-1, 1).sqrt())
        self.register_buffer("gain", torch.tensor(0.08))

    @torch.jit.export
    def decode_export(self, latents: torch.Tensor) -> torch.Tensor:
        b, _, f = latents.shape
        z = latents.float().transpose(1, 2)  # [b, f, 64]
        amp = F.softplus(torch.einsum("bfl,clp->bcfp", z, self.mix) + self.bias.reshape(1, 2, 1, -1))
        audio = torch.matmul(amp, self.basis)  # [b, 2, f, 2048]
        return (audio * self.gain).reshape(b, 2, f * self.basis.shape[1])

    @torch.jit.export
    def encode_export(self, audio: torch.Tensor) -> torch.Tensor:
        b, c, n = audio.shape
        size = self.basis.shape[1]
        f = n // size
        frames = audio[:, :, : f * size].float().reshape(b, c, f, size)
        coef = torch.matmul(frames, self.basis.t()) * (2.0 / size) / self.gain
        mean = torch.einsum("bcfp,clp->blf", coef, self.mix)
        # like DiffRhythm's VAE: [b, 128, f], a mean and a scale per channel (softplus(-6) = 0.0025 std)
        return torch.cat([mean, torch.full_like(mean, -6.0)], dim=1)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decode_export(latents)


class TinyMuLan(nn.Module):
    """texts -> mean of byte embeddings; wavs -> 64 log band energies projected; unit-norm [1, 512]."""

    def __init__(self):
        super().__init__()
        self.bytes = nn.Embedding(256, STYLE)
        self.bands = nn.Linear(64, STYLE)

    @torch.no_grad()
    def forward(self, texts: list[str] | None = None, wavs: torch.Tensor | None = None) -> torch.Tensor:
        if texts is not None:
            rows = []
            for text in texts:
                ids = torch.tensor(list(text.encode("utf-8")) or [0], dtype=torch.long)
                rows.append(self.bytes(ids).mean(dim=0))
            out = torch.stack(rows)
        elif wavs is not None:
            spec = torch.fft.rfft(wavs.float().reshape(wavs.shape[0], -1)).abs().pow(2)
            bands = torch.stack([chunk.mean(dim=-1) for chunk in spec.chunk(64, dim=-1)], dim=-1)
            out = self.bands(torch.log(bands + 1e-8))
        else:
            raise ValueError("give texts= or wavs=")
        return F.normalize(out, dim=-1)

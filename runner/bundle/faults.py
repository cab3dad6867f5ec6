"""Fault switches for the self-test: each one breaks a real part the way real installs break.

Network faults wrap the loaded modules; file faults hand the loader a damaged copy of a real file.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

NETWORK_FAULTS = ("nan_at", "nan_row", "collapse", "slow")
VAE_FAULTS = ("vae_zeros", "white_noise", "vae_nan", "oom_decode", "oom_always")
FILE_FAULTS = ("truncated_ckpt", "lfs_pointer", "wrong_ckpt")
RUN_FAULTS = ("kill_in_write", "crash", "mem_available")
ALL_FAULTS = NETWORK_FAULTS + VAE_FAULTS + FILE_FAULTS + RUN_FAULTS


class FaultyDiT(nn.Module):
    """nan_at:K -> NaN output from step K on; nan_row:K -> NaN in row K (1-based) of every call: candidate K
    of a batch (its guided row); collapse -> a velocity that drives x to exactly zero at t = 1; slow:S -> sleep
    S s a step. Steps are counted by the guided call (drop_text False), one a step whether the guidance rows
    are batched in it or the unguided row is a call of its own."""

    def __init__(self, inner: nn.Module, nan_at: int | None, collapse: bool, slow: float, nan_row: int | None = None):
        super().__init__()
        self.inner = inner
        self.nan_at, self.collapse, self.slow, self.nan_row = nan_at, collapse, slow, nan_row
        self.calls = 0

    def forward(self, x, time, **kw):
        if not kw.get("drop_text", False):
            self.calls += 1
            if self.slow:
                time_module_sleep(self.slow)
        if self.collapse:
            t = float(time.reshape(-1)[0])
            return -x / max(1.0 - t, 1e-6)
        out = self.inner(x=x, time=time, **kw)
        if self.nan_at is not None and self.calls >= self.nan_at:
            out = torch.full_like(out, float("nan"))
        if self.nan_row is not None and self.nan_row <= out.shape[0]:
            out = out.clone()
            out[self.nan_row - 1] = float("nan")
        return out


def time_module_sleep(seconds: float) -> None:
    time.sleep(seconds)


class FaultyVAE:
    def __init__(self, inner: Any, mode: str, oom_above: int = 64):
        self.inner, self.mode, self.oom_above = inner, mode, oom_above

    def decode_export(self, latents: torch.Tensor) -> torch.Tensor:
        if self.mode == "oom_always" or (self.mode == "oom_decode" and latents.shape[2] > self.oom_above):
            raise torch.OutOfMemoryError(f"fault {self.mode}: out of memory decoding {latents.shape[2]} frames")
        audio = self.inner.decode_export(latents)
        if self.mode == "vae_zeros":
            return torch.zeros_like(audio)
        if self.mode == "vae_nan":
            return torch.full_like(audio, float("nan"))
        if self.mode == "white_noise":
            gen = torch.Generator().manual_seed(7)
            return (torch.rand(audio.shape, generator=gen) * 2 - 1) * 0.5
        return audio

    def encode_export(self, audio: torch.Tensor) -> torch.Tensor:
        return self.inner.encode_export(audio)


def damaged_copy(source: Path, kind: str, scratch: Path) -> Path:
    """A copy of `source` damaged as `kind` describes, in `scratch` (the run folder)."""
    scratch.mkdir(parents=True, exist_ok=True)
    target = scratch / f"{kind}_{source.name}"
    data = source.read_bytes()
    if kind == "truncated_ckpt":
        target.write_bytes(data[: len(data) // 2])
    elif kind == "lfs_pointer":
        target.write_text(
            "version https://git-lfs.github.com/spec/v1\n"
            f"oid sha256:{'0' * 64}\nsize {len(data)}\n", encoding="ascii")
    elif kind == "wrong_ckpt":
        state = torch.load(source, weights_only=True)["model_state_dict"]
        torch.save({"model_state_dict": {f"other.{k}": v for k, v in state.items()}}, target)
    else:  # pragma: no cover - callers pass FILE_FAULTS only
        raise ValueError(kind)
    return target

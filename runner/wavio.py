"""Guarded peak normalisation and atomic int16 stereo WAV writing (stdlib `wave`).

The output path only ever holds a complete file: the WAV is written under a hidden temporary name
in the same folder, flushed to disk, then renamed over the target.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Callable

import torch

from runner.atomic import atomic_path
from runner.components import SAMPLE_RATE
from runner.disk_space import guard
from runner.errors import InvalidOutput

TARGET_DBFS = -1.0
MIN_PEAK = 1e-4


def normalise(audio: torch.Tensor, target_dbfs: float = TARGET_DBFS) -> torch.Tensor:
    """Scale so the peak sits at `target_dbfs`; refuses NaN/Inf and (near) silence instead of dividing by it."""
    a = audio.float()
    if not bool(torch.isfinite(a).all()):
        raise InvalidOutput("the audio holds NaN or Inf: nothing to normalise", "see the validate stage")
    peak = float(a.abs().max()) if a.numel() else 0.0
    if peak < MIN_PEAK:
        raise InvalidOutput(f"the audio is silent (peak {peak:.3g}): refusing to amplify it", "see the validate stage")
    return (a * (10 ** (target_dbfs / 20) / peak)).clamp(-1.0, 1.0)


def to_int16_frames(audio: torch.Tensor) -> bytes:
    """[channels, samples] in [-1, 1] -> interleaved little-endian int16 bytes."""
    pcm = torch.round(audio.clamp(-1.0, 1.0) * 32767.0).to(torch.int16)
    return pcm.t().contiguous().numpy().astype("<i2").tobytes()


def write_wav_atomic(
    path: Path,
    audio: torch.Tensor,
    sample_rate: int = SAMPLE_RATE,
    *,
    chunk_frames: int = 1 << 18,
    on_chunk: Callable[[int, int], None] | None = None,
) -> int:
    """Write `audio` [2, samples] in [-1, 1] to `path` atomically; returns the file's size (a full disk: DiskFull)."""
    path = Path(path)
    channels = audio.shape[0]
    need = 44 + audio.shape[1] * channels * 2
    with guard(path, "the song", need), atomic_path(path, mode=0o644) as tmp, wave.open(str(tmp), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        total = audio.shape[1]
        for start in range(0, max(total, 1), chunk_frames):
            w.writeframes(to_int16_frames(audio[:, start : start + chunk_frames]))
            if on_chunk is not None:
                on_chunk(min(start + chunk_frames, total), total)
    return path.stat().st_size


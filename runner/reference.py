"""The song a run edits or continues: read, made 44.1 kHz stereo, normalised to -6 dBFS, cut to length,
and encoded into the reference latent the sampler keeps (`cond`).

Reading goes through `runner.clip.read_audio` (WAV directly; FLAC, OGG, MP3 through soundfile or
librosa when installed). Every problem with the song is a BadInput naming the file.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from runner.clip import read_audio, resample
from runner.components import LATENT_CHANNELS, SAMPLE_RATE, SAMPLES_PER_FRAME
from runner.encode import draw_latent, encode_windows
from runner.errors import BadInput, EnvironmentProblem, InvalidOutput
from runner.wavio import normalise

REFERENCE_DBFS = -6.0


def stereo(audio: torch.Tensor) -> torch.Tensor:
    """[channels, n] -> [2, n]: mono is doubled, extra channels are dropped (as upstream does)."""
    if audio.shape[0] == 1:
        return audio.repeat(2, 1)
    return audio[:2]


def read_song(path: str, what: str, samples: int | None = None) -> torch.Tensor:
    """[2, n] float32 at 44.1 kHz, peak at -6 dBFS; cut to `samples` when given."""
    data, rate = read_audio(path, what)
    audio = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
    audio = stereo(resample(audio, rate, SAMPLE_RATE))
    if samples is not None:
        audio = audio[:, :samples]
    try:
        return normalise(audio, REFERENCE_DBFS)
    except InvalidOutput as exc:
        raise BadInput(f"{what} {path}: {exc.message.split(':')[0].replace('the audio', 'the song')}",
                       "give a song with sound in it") from None


def reference_latent(vae: Any, path: str, what: str, keep_frames: int, frames: int, seed: int,
                     device: torch.device, window: int, overlap: int,
                     on_chunk: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """[1, frames, 64] float32 on the CPU: the song's first `keep_frames` frames, zeros after them."""
    audio = read_song(path, what, keep_frames * SAMPLES_PER_FRAME)
    kept = draw_latent(encode_windows(vae, audio.to(device), window, overlap, on_chunk), seed)
    cond = torch.zeros(1, frames, LATENT_CHANNELS)
    cond[:, : kept.shape[1]] = kept[:, :frames]
    if not bool(torch.isfinite(cond).all()):
        raise EnvironmentProblem(f"the VAE encoded {path} to NaN/Inf", "check the VAE file (`drdoctor check --deep`)")
    return cond

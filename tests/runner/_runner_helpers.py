"""Helpers shared by the runner tests (imported by name: the test folders are not packages)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

# `drdoctor selftest` cases that test_selftest_end_to_end runs through the command: each exercises a part of
# the selftest's own judging (a clean WAV, a caught fault, the decode warning, cancel then --resume). Every
# other case runs once in test_run_cli.py::test_failures, with its declared arguments, exit code and stage.
SELFTEST_END_TO_END = ("pipeline", "vae_zeros", "oom_once", "cancel_resume")


def runner_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["OMP_NUM_THREADS"] = "1"  # the bundle is tiny: threads only cost (badly, on a busy machine)
    return env


def parse_stdout(stdout: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.decode("utf-8").splitlines()]


def write_song(path: Path, seconds: float, rate: int = 44100, channels: int = 2, seed: int = 0) -> Path:
    """A real PCM WAV song: a few tones with a slow swell, written by the runner's own WAV writer."""
    import math

    import torch

    from runner.wavio import write_wav_atomic

    n = int(seconds * rate)
    t = torch.arange(n, dtype=torch.float32) / rate
    gen = torch.Generator().manual_seed(seed)
    freqs = 110.0 * (1 + torch.randint(1, 8, (3,), generator=gen).float())
    mono = sum(torch.sin(2 * math.pi * f * t) for f in freqs) * (0.6 + 0.4 * torch.sin(2 * math.pi * 0.5 * t))
    audio = (mono / 3 * 0.5).repeat(channels, 1)
    if channels > 1:
        audio[1] *= 0.8
    write_wav_atomic(path, audio, rate)
    return path

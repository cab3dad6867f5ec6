"""Is this a song? Checks on the latents and the raw decoded audio, each with a value and a limit.

severity "fail" ends the run with exit 4 (nothing is written); "warn" only warns.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

from runner.components import SAMPLE_RATE

SILENT_PEAK = 1e-4  # below this the decode is silence, whatever normalisation would do
COLLAPSED_STD = 0.02  # latent std below this (noise starts at 1): the sampler collapsed
WINDOW_S = 0.05  # 50 ms windows for the silence share
SILENT_WINDOW_DB = -60.0  # a window this far below the peak counts as silent
SILENT_SHARE_FAIL = 0.9
SILENT_SHARE_WARN = 0.5
CLIP_LEVEL = 0.999
CLIP_SHARE_WARN = 0.001
DC_WARN = 0.05  # |mean| / peak
RMS_DBFS_WARN = -50.0
FLATNESS_FAIL = 0.5  # white noise ~0.56 (power-spectrum flatness), music well below
FLATNESS_WARN = 0.35
FFT_SIZE = 2048
FFT_FRAMES = 96  # windows spread over the song for the spectral check


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    value: float | None
    limit: str
    message: str
    severity: str = "fail"  # what a failed check means: "fail" or "warn"

    @property
    def failed(self) -> bool:
        return not self.ok and self.severity == "fail"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _num(value: float) -> float | None:
    return None if not math.isfinite(value) else round(float(value), 6)


def _graded(name: str, value: float, warn_at: float, fail_at: float, message: str, failure: str,
            strict: bool = False) -> Check:
    """One check with two levels: above `warn_at` a warning, above `fail_at` (>= when strict) a failure."""
    fails = value >= fail_at if strict else value > fail_at
    warns = value >= warn_at if strict else value > warn_at
    op = "<" if strict else "<="
    limit = f"{op} {warn_at} (fails {'>=' if strict else '>'} {fail_at})"
    if fails:
        return Check(name, False, _num(value), limit, f"{message}: {failure}", "fail")
    return Check(name, not warns, _num(value), limit, message + (": high" if warns else ""), "warn" if warns else "fail")


def check_latents(latents: torch.Tensor) -> list[Check]:
    x = latents.float()
    finite = bool(torch.isfinite(x).all())
    checks = [Check("latents_finite", finite, float(finite), "all finite",
                    "latents are finite" if finite else "latents hold NaN or Inf")]
    if finite:
        std = float(x.std())
        ok = std >= COLLAPSED_STD
        checks.append(Check("latents_std", ok, _num(std), f">= {COLLAPSED_STD}",
                            f"latent spread {std:.4g}" + ("" if ok else ": the latents collapsed to a constant")))
    return checks


def spectral_flatness(mono: torch.Tensor, n_fft: int = FFT_SIZE, frames: int = FFT_FRAMES) -> float:
    """Mean power-spectrum flatness (geometric / arithmetic mean) over windows spread over the audio,
    ignoring near-silent windows. ~0.56 for white noise, near 0 for tones; NaN when all are silent."""
    n = mono.shape[0]
    if n < n_fft:
        mono = torch.nn.functional.pad(mono, (0, n_fft - n))
        n = n_fft
    count = min(frames, n // n_fft)
    starts = torch.linspace(0, n - n_fft, count).long()
    segs = torch.stack([mono[s : s + n_fft] for s in starts.tolist()]).double()
    peak = float(mono.abs().max())
    rms = segs.pow(2).mean(dim=1).sqrt()
    keep = rms > max(peak, 1e-12) * 10 ** (SILENT_WINDOW_DB / 20)
    if not bool(keep.any()):
        return float("nan")
    segs = segs[keep] * torch.hann_window(n_fft, dtype=torch.float64)
    power = torch.fft.rfft(segs).abs().pow(2)[:, 1:] + 1e-20
    flat = torch.exp(torch.log(power).mean(dim=1)) / power.mean(dim=1)
    return float(flat.mean())


def check_audio(audio: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> list[Check]:
    """`audio` [channels, samples], before normalisation."""
    a = audio.float()
    finite = bool(torch.isfinite(a).all())
    checks = [Check("audio_finite", finite, float(finite), "all finite",
                    "audio is finite" if finite else "the decoded audio holds NaN or Inf")]
    if not finite:
        return checks
    peak = float(a.abs().max()) if a.numel() else 0.0
    loud = peak >= SILENT_PEAK
    checks.append(Check("peak", loud, _num(peak), f">= {SILENT_PEAK}",
                        f"peak {peak:.4g}" + ("" if loud else ": the audio is silent")))
    if not loud:
        return checks
    rms = float(a.pow(2).mean().sqrt())
    dbfs = 20 * math.log10(max(rms, 1e-12))
    checks.append(Check("rms_dbfs", dbfs >= RMS_DBFS_WARN, _num(dbfs), f">= {RMS_DBFS_WARN}",
                        f"RMS {dbfs:.1f} dBFS before normalisation", "warn"))
    mono = a.mean(dim=0)
    win = max(1, int(sample_rate * WINDOW_S))
    nwin = max(1, mono.shape[0] // win)
    wrms = mono[: nwin * win].reshape(nwin, win).pow(2).mean(dim=1).sqrt()
    silent = float((wrms < peak * 10 ** (SILENT_WINDOW_DB / 20)).float().mean())
    checks.append(_graded("silent_share", silent, SILENT_SHARE_WARN, SILENT_SHARE_FAIL,
                          f"{silent:.0%} of 50 ms windows are silent", "mostly silence"))
    clip = float((a.abs() >= CLIP_LEVEL).float().mean())
    checks.append(Check("clipping_share", clip <= CLIP_SHARE_WARN, _num(clip), f"<= {CLIP_SHARE_WARN}",
                        f"{clip:.3%} of samples at full scale in the raw decode", "warn"))
    dc = float(a.mean(dim=1).abs().max()) / peak
    checks.append(Check("dc_offset", dc <= DC_WARN, _num(dc), f"<= {DC_WARN} of peak",
                        f"DC offset {dc:.3f} of the peak", "warn"))
    flat = spectral_flatness(mono, FFT_SIZE)
    if math.isnan(flat):
        checks.append(Check("spectral_flatness", False, None, f"< {FLATNESS_FAIL}", "no audible window to analyse"))
    else:
        checks.append(_graded("spectral_flatness", flat, FLATNESS_WARN, FLATNESS_FAIL,
                              f"spectral flatness {flat:.3f}", "sounds like white noise, not music", strict=True))
    return checks

"""Reading audio files, and a reference clip -> the 10 s mono 24 kHz excerpt the style encoder hears.

`audio_seconds` / `read_audio` serve every audio input (style clips, songs to edit or continue).
WAV (PCM 8/16/24/32-bit) is read with the standard library. Other formats (FLAC, OGG, MP3, float
WAV) are read with `soundfile` or `librosa` when one of them is installed.
"""

from __future__ import annotations

import importlib.util
import math
import wave
from pathlib import Path

import numpy as np
import torch

from runner.errors import BadInput
from runner.timefmt import format_seconds

EXCERPT_S = 10
TARGET_RATE = 24000


def _short_clip(path: Path, seconds: float) -> BadInput:
    return BadInput(
        f"reference clip {path} is {format_seconds(seconds)} long; the style needs at least {EXCERPT_S} s",
        f"use a clip of {EXCERPT_S} s or more (its middle {EXCERPT_S} s are used), or a text style",
    )


def _excerpt_start(seconds: float) -> float:
    # As upstream: the middle second rounded down, minus half the excerpt.
    return max(0.0, (seconds // 2) - EXCERPT_S / 2)


def _pcm_to_float(raw: bytes, width: int, channels: int) -> np.ndarray:
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints.astype(np.float32) / float(1 << 23)
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float32) / float(1 << 31)
    else:
        raise ValueError(f"{width * 8}-bit samples")
    return data.reshape(-1, channels).T  # [channels, n]


def _wav_seconds(path: Path) -> float | None:
    try:
        with wave.open(str(path), "rb") as handle:
            return handle.getnframes() / handle.getframerate()
    except (wave.Error, EOFError, ValueError, ZeroDivisionError):
        return None


def _read_wav(path: Path, start_s: float, seconds: float | None) -> tuple[np.ndarray, int] | None:
    """[channels, n] at the file's rate, or None when `wave` cannot read this file."""
    try:
        with wave.open(str(path), "rb") as handle:
            rate, width, channels = handle.getframerate(), handle.getsampwidth(), handle.getnchannels()
            handle.setpos(min(int(start_s * rate), handle.getnframes()))
            raw = handle.readframes(handle.getnframes() if seconds is None else int(seconds * rate))
            return _pcm_to_float(raw, width, channels), rate
    except (wave.Error, EOFError, ValueError):
        return None


def _soundfile():
    try:
        import soundfile
    except (ImportError, OSError):
        return None
    return soundfile


def _other_seconds(path: Path) -> float | None:
    soundfile = _soundfile()
    if soundfile is not None:
        try:
            info = soundfile.info(str(path))
            return info.frames / info.samplerate
        except Exception:  # soundfile.LibsndfileError and friends: try the next reader
            pass
    try:
        import librosa

        return float(librosa.get_duration(path=str(path)))
    except Exception:  # not installed, or cannot read it
        return None


def _read_other(path: Path, start_s: float, seconds: float | None) -> tuple[np.ndarray, int] | None:
    soundfile = _soundfile()
    if soundfile is not None:
        try:
            rate = soundfile.info(str(path)).samplerate
            data, rate = soundfile.read(str(path), start=int(start_s * rate),
                                        frames=-1 if seconds is None else int(seconds * rate),
                                        dtype="float32", always_2d=True)
            return data.T, rate
        except Exception:  # soundfile.LibsndfileError and friends: try the next reader
            pass
    try:
        import librosa

        data, rate = librosa.load(str(path), sr=None, mono=False, offset=start_s, duration=seconds)
        return np.atleast_2d(data).astype(np.float32), int(rate)
    except Exception:  # not installed, or cannot read it
        return None


def _is_wav_name(path: Path) -> bool:
    return path.suffix.lower() in (".wav", ".wave", "")


def _unreadable(path: Path, what: str) -> BadInput:
    readers = [name for name in ("soundfile", "librosa") if importlib.util.find_spec(name) is not None]
    extra = (
        f"{' and '.join(readers)} could not read it either" if readers
        else "FLAC, OGG, MP3 and float WAV need soundfile or librosa, and neither is installed"
    )
    return BadInput(
        f"cannot read {what} {path}: PCM WAV (8/16/24/32-bit) is read directly; {extra}",
        f"convert it to a 16-bit WAV (e.g. `ffmpeg -i {path.name} {path.stem}.wav`), or `pip install soundfile`",
    )


def _existing(path: Path | str, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{what} {path} does not exist", "give the path of an audio file")
    return path


def audio_seconds(path: Path | str, what: str = "reference clip") -> float:
    """The length of an audio file in seconds (reads only its header where it can); BadInput if unreadable."""
    path = _existing(path, what)
    seconds = _wav_seconds(path) if _is_wav_name(path) else None
    if seconds is None:
        seconds = _other_seconds(path)
    if seconds is None:
        raise _unreadable(path, what)
    return seconds


def read_audio(path: Path | str, what: str = "reference clip", start_s: float = 0.0,
               seconds: float | None = None) -> tuple[np.ndarray, int]:
    """([channels, n] float32, rate) from `start_s` for `seconds` (None: to the end); BadInput if unreadable."""
    path = _existing(path, what)
    read = _read_wav(path, start_s, seconds) if _is_wav_name(path) else None
    if read is None:
        read = _read_other(path, start_s, seconds)
    if read is None or read[0].size == 0:
        raise _unreadable(path, what) if read is None else BadInput(f"{what} {path} holds no audio", "give a song")
    return read


def _sinc_kernel(orig: int, new: int, width: int = 6, rolloff: float = 0.99) -> tuple[torch.Tensor, int]:
    """Windowed-sinc polyphase filter bank: one row per output phase (Hann window)."""
    base = min(orig, new) * rolloff
    half = int(math.ceil(width * orig / base))
    idx = torch.arange(-half, half + orig, dtype=torch.float64)[None, :] / orig
    phases = -torch.arange(new, dtype=torch.float64)[:, None] / new
    t = (phases + idx) * base
    t = t.clamp(-width, width)
    window = torch.cos(t * math.pi / width / 2) ** 2
    t = t * math.pi
    scale = base / orig
    kernel = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / torch.where(t == 0, torch.ones_like(t), t))
    return (kernel * window * scale).to(torch.float32), half


def resample(audio: torch.Tensor, orig: int, new: int) -> torch.Tensor:
    """[channels, n] at `orig` Hz -> [channels, ceil(n * new / orig)] at `new` Hz (band-limited)."""
    if orig == new:
        return audio
    g = math.gcd(orig, new)
    o, n = orig // g, new // g
    kernel, half = _sinc_kernel(o, n)
    channels, length = audio.shape
    x = torch.nn.functional.pad(audio.reshape(channels, 1, length), (half, half + o))
    y = torch.nn.functional.conv1d(x, kernel[:, None, :], stride=o)  # [channels, n, frames]
    y = y.transpose(1, 2).reshape(channels, -1)
    return y[:, : int(math.ceil(n * length / o))]


def reference_excerpt(path: Path | str) -> torch.Tensor:
    """The clip's middle 10 s as float32 [1, 240000], mono, 24 kHz."""
    path = Path(path)
    seconds = audio_seconds(path)
    if seconds < EXCERPT_S:
        raise _short_clip(path, seconds)
    data, rate = read_audio(path, start_s=_excerpt_start(seconds), seconds=EXCERPT_S)
    mono = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)).mean(dim=0, keepdim=True)
    out = resample(mono, rate, TARGET_RATE)
    want = EXCERPT_S * TARGET_RATE
    if out.shape[1] < want:
        out = torch.nn.functional.pad(out, (0, want - out.shape[1]))
    return out[:, :want].contiguous()

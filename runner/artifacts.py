"""The run folder's files: request.json, latents.pt, audio_raw.pt, manifest.json (all written atomically)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from runner.atomic import atomic_path
from runner.disk_space import guard
from runner.errors import BadInput

REQUEST = "request.json"
EVENTS = "events.ndjson"
LOG = "runner.log"
LATENTS = "latents.pt"
AUDIO_RAW = "audio_raw.pt"
MANIFEST = "manifest.json"
STYLE = "style.pt"  # the style vector the run used: --style-from RUN_DIR reuses it
REFERENCE = "reference_latents.pt"  # the encoded song of an edit or a continuation (the sampler's cond)
LYRICS_TIMED = "lyrics.lrc"  # the LRC made for untimed lyrics


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def save_atomic(path: Path, write: Callable[[Path], None], need: int | None = None) -> int:
    """Run `write(tmp_path)`, then rename over `path`; returns the size. A full disk: DiskFull (exit 3)."""
    path = Path(path)
    with guard(path, "the run file", need), atomic_path(path, mode=0o644) as tmp:
        write(tmp)
    return path.stat().st_size


def _save_torch(path: Path, payload: Any, need: int) -> int:
    def write(tmp: Path) -> None:
        with tmp.open("wb") as handle:  # a file object: a full disk is an OSError (a path gives torch's RuntimeError)
            torch.save(payload, handle)

    return save_atomic(path, write, need)


def write_json(path: Path, data: dict[str, Any]) -> int:
    return save_atomic_text(path, json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n")


def save_latents(folder: Path, latents: torch.Tensor, request: Any) -> int:
    payload = {"latents": latents.detach().cpu().float(), "seed": request.seed, "steps": request.steps,
               "cfg": request.cfg, "frames": int(latents.shape[1]),
               "seeds": [request.seed + k for k in range(latents.shape[0])]}
    return _save_torch(folder / LATENTS, payload, latents.numel() * 4)


def save_atomic_text(path: Path, text: str) -> int:
    data = text.encode("utf-8")
    return save_atomic(path, lambda tmp: tmp.write_bytes(data), len(data))


def save_tensor(folder: Path, name: str, tensor: torch.Tensor) -> int:
    value = tensor.detach().cpu().float().clone()
    return _save_torch(folder / name, value, value.numel() * 4)


def save_audio(folder: Path, audio: torch.Tensor) -> int:
    return _save_torch(folder / AUDIO_RAW, {"audio": audio.detach().cpu().float()}, audio.numel() * 4)


def _load(path: Path, key: str) -> torch.Tensor:
    try:
        data = torch.load(path, weights_only=True, map_location="cpu")
        value = data[key]
        if not isinstance(value, torch.Tensor):
            raise TypeError(type(value).__name__)
        return value
    except Exception as exc:  # noqa: BLE001 - a damaged artifact is a bad resume request
        raise BadInput(f"{path} cannot be reused: {exc}", "start a new run instead of --resume") from None


def load_latents(folder: Path) -> torch.Tensor:
    return _load(folder / LATENTS, "latents")


def load_audio(folder: Path) -> torch.Tensor:
    return _load(folder / AUDIO_RAW, "audio")


def reject_audio(folder: Path) -> None:
    """Keep audio that failed validation for inspection, under a name --resume does not reuse."""
    path = folder / AUDIO_RAW
    if path.is_file():
        path.replace(folder / "audio_raw.rejected.pt")


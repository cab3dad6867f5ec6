"""The run folder's files: request.json, latents.pt, audio_raw.pt, manifest.json (all written atomically)."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import torch

from runner.errors import BadInput
from runner.wavio import save_atomic

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


def write_json(path: Path, data: dict[str, Any]) -> int:
    return save_atomic_text(path, json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n")


def save_latents(folder: Path, latents: torch.Tensor, request: Any) -> int:
    payload = {"latents": latents.detach().cpu().float(), "seed": request.seed, "steps": request.steps,
               "cfg": request.cfg, "frames": int(latents.shape[1]),
               "seeds": [request.seed + k for k in range(latents.shape[0])]}
    return save_atomic(folder / LATENTS, lambda tmp: torch.save(payload, tmp))


def save_atomic_text(path: Path, text: str) -> int:
    return save_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def save_tensor(folder: Path, name: str, tensor: torch.Tensor) -> int:
    value = tensor.detach().cpu().float().clone()
    return save_atomic(folder / name, lambda tmp: torch.save(value, tmp))


def save_audio(folder: Path, audio: torch.Tensor) -> int:
    return save_atomic(folder / AUDIO_RAW, lambda tmp: torch.save({"audio": audio.detach().cpu().float()}, tmp))


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


def resumable(folder: Path) -> str | None:
    """The furthest artifact a resumed run can start from."""
    if (folder / AUDIO_RAW).is_file() and (folder / LATENTS).is_file():
        return "audio_raw"
    if (folder / LATENTS).is_file():
        return "latents"
    return None

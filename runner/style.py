"""The style vector [1, 512]: from a text prompt or a reference clip (through a disk cache), or reused.

Reuse: `--style-embedding FILE` (.npy or .pt holding [1, 512] or [512] floats) or `--style-from RUN_DIR`
(every run folder keeps the vector it used as style.pt); no style encoder is built for either.

The cache key is (style encoder identity, SHA-256 of the prompt text or of the clip's bytes), so a
second run with the same style never builds the style encoder (MuQ-MuLan: seconds to load, GBs of
memory).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from runner.atomic import atomic_path
from runner.clip import reference_excerpt
from runner.components import Components
from runner.errors import BadInput, EnvironmentProblem, InvalidOutput

STYLE_DIM = 512


def _sha256_bytes(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def style_cache_key(encoder_id: str, kind: str, content_sha256: str) -> str:
    return hashlib.sha256(f"{encoder_id}\0{kind}\0{content_sha256}".encode()).hexdigest()


def _checked(vector: Any, what: str) -> torch.Tensor:
    if not isinstance(vector, torch.Tensor):
        raise InvalidOutput(f"the style encoder returned {type(vector).__name__} for {what}, not a tensor", "")
    vector = vector.detach().to(device="cpu", dtype=torch.float32)
    if vector.numel() != STYLE_DIM:
        raise InvalidOutput(
            f"the style encoder returned shape {tuple(vector.shape)} for {what}; expected [1, {STYLE_DIM}]",
            "check that the MuQ-MuLan folder holds OpenMuQ/MuQ-MuLan-large",
        )
    vector = vector.reshape(1, STYLE_DIM).contiguous()
    if not torch.isfinite(vector).all():
        raise InvalidOutput(f"the style encoder returned NaN or Inf for {what}", "check the MuQ-MuLan weights")
    return vector


def _load_cached(path: Path) -> torch.Tensor | None:
    try:
        vector = torch.load(path, weights_only=True, map_location="cpu")
        return _checked(vector, "the cache")
    except Exception:  # a missing, cut or foreign cache file is only a cache miss
        return None


def _store(path: Path, vector: torch.Tensor) -> None:
    try:  # through a file object: a full disk is an OSError (torch.save to a path raises its RuntimeError)
        with atomic_path(path) as tmp, tmp.open("wb") as handle:
            torch.save(vector.clone(), handle)
    except OSError:
        pass  # a cache that cannot be written only costs time


def load_style_file(path: Path | str, what: str = "style embedding") -> torch.Tensor:
    """A saved style vector -> [1, 512] float32; BadInput naming the file for anything else."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{what} {path} does not exist", "give a .npy or .pt file holding a [1, 512] style vector")
    remedy = "give a .npy or .pt file holding [1, 512] or [512] floats (a run folder keeps its style.pt)"
    try:
        if path.suffix.lower() == ".npy":
            array = np.load(path, allow_pickle=False)
            if array.dtype.kind != "f":
                raise BadInput(f"{what} {path} holds {array.dtype} values, not floats", remedy)
            value: Any = torch.from_numpy(np.ascontiguousarray(array))
        else:
            value = torch.load(path, weights_only=True, map_location="cpu")
    except BadInput:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input
        raise BadInput(f"{what} {path} cannot be read: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                       remedy) from None
    if not isinstance(value, torch.Tensor):
        raise BadInput(f"{what} {path} holds a {type(value).__name__}, not a tensor", remedy)
    if not value.is_floating_point():
        raise BadInput(f"{what} {path} holds {str(value.dtype).replace('torch.', '')} values, not floats", remedy)
    if tuple(value.shape) not in ((1, STYLE_DIM), (STYLE_DIM,)):
        raise BadInput(f"{what} {path} has shape {list(value.shape)}; expected [1, {STYLE_DIM}] or [{STYLE_DIM}]", remedy)
    value = value.detach().to(torch.float32).reshape(1, STYLE_DIM).contiguous()
    if not bool(torch.isfinite(value).all()):
        raise BadInput(f"{what} {path} holds NaN or Inf", remedy)
    return value


def reused_style(request: Any) -> tuple[torch.Tensor, str] | None:
    """(vector, where from) for --style-embedding / --style-from; None when the style must be computed."""
    from runner.artifacts import STYLE

    if getattr(request, "style_embedding", None):
        return load_style_file(request.style_embedding), f"style vector from {request.style_embedding}"
    if getattr(request, "style_from", None):
        folder = Path(request.style_from)
        if not folder.is_dir():
            raise BadInput(f"--style-from {folder} is not a run folder", "give a folder under runs/ (runs/<run id>)")
        path = folder / STYLE
        if not path.is_file():
            raise BadInput(f"run folder {folder} keeps no {STYLE}", "give a run folder made by this version "
                           "(every run keeps the style vector it used), or --style-embedding FILE")
        return load_style_file(path, "style vector"), f"style vector of the run in {folder}"
    return None


def compute_style(request: Any, components: Components, cache_dir: Path | str) -> tuple[torch.Tensor, bool]:
    """(style [1, 512] float32 on the CPU, whether it came from the cache)."""
    prompt = getattr(request, "style", None)
    clip = getattr(request, "ref_audio", None)
    if prompt and clip:
        raise BadInput("the request gives both a text style and a reference clip", "give only one of them")
    if clip:
        clip = Path(clip)
        if not clip.is_file():
            raise BadInput(f"reference clip {clip} does not exist", "give the path of an audio file")
        kind, content = "wav", _sha256_bytes(clip)
    elif prompt:
        kind, content = "text", hashlib.sha256(str(prompt).encode("utf-8")).hexdigest()
    else:
        raise BadInput("the request has no style", "give a text style (e.g. 'pop, piano, female vocals') or a clip")

    cache_file = Path(cache_dir) / f"{style_cache_key(components.style_encoder_id, kind, content)}.pt"
    cached = _load_cached(cache_file) if cache_file.is_file() else None
    if cached is not None:
        return cached, True

    wav = reference_excerpt(clip) if kind == "wav" else None  # refuse a bad clip before loading the encoder
    if components.style_encoder_factory is None:
        raise EnvironmentProblem(
            "this install has no style encoder and the style is not in the cache",
            "install the MuQ-MuLan model (OpenMuQ/MuQ-MuLan-large) and the `muq` package",
        )
    encoder = components.style_encoder_factory()
    with torch.no_grad():
        if wav is not None:
            vector = _checked(encoder(wavs=wav), f"reference clip {clip}")
        else:
            vector = _checked(encoder(texts=[str(prompt)]), "the text style")
    _store(cache_file, vector)
    return vector, False

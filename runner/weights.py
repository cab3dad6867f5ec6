"""Loading model files so that a wrong, partial or placeholder file is refused instead of half-used.

Upstream loads its checkpoint with `strict=False`, which accepts a git-lfs pointer's failure, a wrong
checkpoint or an empty dict without a word. Here every model file is checked before it is read, and
the load is refused when most of the network would stay at its random initialisation.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from runner import locations
from runner.atomic import write_text_atomic
from runner.errors import EnvironmentProblem

LFS_MAGIC = b"version https://git-lfs.github.com/spec/v1"
MIN_LOADED_FRACTION = 0.5  # refuse a load that fills less than this share of the network's tensors
_SHA256_NAME = re.compile(r"^[0-9a-f]{64}$")
_REDOWNLOAD = (
    "download the file again (e.g. `huggingface-cli download ASLP-lab/DiffRhythm-1_2 cfm_model.pt "
    "--cache-dir <checkout>/pretrained`), or run `drdoctor fix models`"
)


@dataclass
class LoadReport:
    missing: list[str]  # network tensors the file did not provide (they keep their random values)
    unexpected: list[str]  # file tensors the network has no place for
    loaded: int  # network tensors filled from the file
    path: str = ""
    source: str = ""  # "model_state_dict", "ema_model_state_dict" or "state_dict"
    warnings: list[str] = field(default_factory=list)


def check_file(path: Path | str, role: str) -> Path:
    """Refuse what is not a usable model file: missing, empty, a git-lfs pointer, an unfinished download."""
    path = Path(path)
    name = f"{role} file {path}"
    if path.name.endswith(".incomplete"):
        raise EnvironmentProblem(f"{name} is an unfinished download (.incomplete)", _REDOWNLOAD)
    if path.is_symlink() and not path.exists():
        target = Path(os.path.realpath(path))
        if Path(str(target) + ".incomplete").exists():
            raise EnvironmentProblem(
                f"{name} points at {target}, whose download never finished ({target.name}.incomplete is there)",
                _REDOWNLOAD,
            )
        raise EnvironmentProblem(f"{name} is a link to {target}, which does not exist", _REDOWNLOAD)
    if not path.exists():
        raise EnvironmentProblem(f"{name} does not exist", _REDOWNLOAD)
    if path.is_dir():
        raise EnvironmentProblem(f"{name} is a folder, not a file", "point the models setting at the file itself")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(len(LFS_MAGIC))
    except OSError as exc:
        raise EnvironmentProblem(f"{name} cannot be read ({exc.strerror})", "check the file's permissions") from exc
    if size == 0:
        raise EnvironmentProblem(f"{name} is empty (0 bytes)", _REDOWNLOAD)
    if head == LFS_MAGIC:
        raise EnvironmentProblem(
            f"{name} is a git-lfs pointer ({size} bytes of text), not the weights: the repository was "
            "cloned without git-lfs",
            "run `git lfs install && git lfs pull` in that repository, or " + _REDOWNLOAD,
        )
    return path


def _read(path: Path, role: str) -> Any:
    try:
        if path.suffix == ".safetensors":
            try:
                from safetensors.torch import load_file
            except ImportError as exc:
                raise EnvironmentProblem(
                    f"{role} file {path} is a .safetensors file and the package safetensors is not installed",
                    "pip install safetensors",
                ) from exc
            return load_file(str(path), device="cpu")
        try:
            # mapped, not read: a 4 GB checkpoint then costs no second copy in memory while it is loaded
            return torch.load(path, weights_only=True, map_location="cpu", mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            return torch.load(path, weights_only=True, map_location="cpu")  # legacy (non-zip) format
    except EnvironmentProblem:
        raise
    except Exception as exc:  # zip/pickle/EOF errors of a cut or foreign file take many forms
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EnvironmentProblem(
            f"{role} file {path} ({path.stat().st_size} bytes) is truncated or not a checkpoint: {detail}",
            _REDOWNLOAD,
        ) from exc


def _state_dict(raw: Any, path: Path, role: str, prefer_ema: bool) -> tuple[dict[str, torch.Tensor], str]:
    if not isinstance(raw, dict):
        raise EnvironmentProblem(f"{role} file {path} holds a {type(raw).__name__}, not a checkpoint dict", _REDOWNLOAD)
    plain = raw.get("model_state_dict")
    ema = raw.get("ema_model_state_dict")
    if isinstance(ema, dict) and (prefer_ema or not isinstance(plain, dict)):
        state = {
            (k[len("ema_model."):] if k.startswith("ema_model.") else k): v
            for k, v in ema.items()
            if k not in ("initted", "step")
        }
        return state, "ema_model_state_dict"
    if isinstance(plain, dict):
        return dict(plain), "model_state_dict"
    tensors = {k: v for k, v in raw.items() if isinstance(v, torch.Tensor)}
    if tensors and len(tensors) == len(raw):
        return tensors, "state_dict"
    keys = ", ".join(sorted(map(str, raw))[:6])
    raise EnvironmentProblem(
        f"{role} file {path} has no model weights (no model_state_dict or ema_model_state_dict; keys: {keys})",
        _REDOWNLOAD,
    )


def load_state_dict_checked(
    module: torch.nn.Module, path: Path | str, *, prefer_ema: bool = False, role: str = "checkpoint"
) -> LoadReport:
    """Load `path` into `module` (non-strict, like upstream), refusing loads that would leave it mostly random."""
    path = check_file(path, role)
    state, source = _state_dict(_read(path, role), path, role, prefer_ema)
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and isinstance(state[k], torch.Tensor) and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    loaded = len(own) - len(missing)
    total_elems = sum(t.numel() for t in own.values()) or 1
    loaded_elems = sum(t.numel() for k, t in own.items() if k in state)
    hint = f"{loaded} of {len(own)} tensors matched, {len(unexpected)} unexpected"
    if mismatched:
        raise EnvironmentProblem(
            f"{role} file {path} is for a different network: {len(mismatched)} tensors have other shapes "
            f"(first: {mismatched[0]}); {hint}",
            "use the checkpoint that matches the song length (DiffRhythm-1_2 for 95 s, DiffRhythm-1_2-full "
            "for 96-285 s) and the checkout's config/diffrhythm-1b.json",
        )
    if loaded == 0 or loaded / max(len(own), 1) < MIN_LOADED_FRACTION or loaded_elems / total_elems < MIN_LOADED_FRACTION:
        example = (unexpected or missing)[:3]
        raise EnvironmentProblem(
            f"{role} file {path} does not fit this network: {hint} "
            f"({loaded_elems / total_elems:.0%} of the weights); examples: {', '.join(example)}. "
            "Loading it would leave most of the network random and make noise",
            "use the DiffRhythm cfm_model.pt that matches the song length; " + _REDOWNLOAD,
        )
    module.load_state_dict(state, strict=False)
    report = LoadReport(missing=missing, unexpected=unexpected, loaded=loaded, path=str(path), source=source)
    if missing:
        report.warnings.append(
            f"{role} file {path} left {len(missing)} tensors at random values (e.g. {', '.join(missing[:3])})"
        )
    if unexpected:
        report.warnings.append(f"{role} file {path} has {len(unexpected)} tensors the network does not use")
    return report


# --- fingerprints -----------------------------------------------------------------------------------


def _hash_cache_file() -> Path:
    return locations.cache_dir() / "sha256.json"


def _load_hash_cache() -> dict[str, Any]:
    try:
        data = json.loads(_hash_cache_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _store_hash_cache(data: dict[str, Any]) -> None:
    target = _hash_cache_file()
    try:
        write_text_atomic(target, json.dumps(data, indent=0, sort_keys=True))
    except OSError:
        pass  # a cache that cannot be written only costs time


def sha256_file(path: Path, chunk: int = 8 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(path: Path | str, role: str) -> dict[str, Any]:
    """{"role", "path", "bytes", "sha256"}; the hash is cached by (real path, size, mtime).

    A Hugging Face cache blob is named by its SHA-256: a file that does not hash to its own name was cut
    short, written over or swapped, and is refused.
    """
    given = Path(path)
    real = Path(os.path.realpath(given))
    try:
        stat = real.stat()
    except OSError as exc:
        raise EnvironmentProblem(f"{role} file {given} cannot be read ({exc.strerror})", _REDOWNLOAD) from exc
    key = f"{real}|{stat.st_size}|{stat.st_mtime_ns}"
    cache = _load_hash_cache()
    digest = cache.get(key)
    if not isinstance(digest, str):
        digest = sha256_file(real)
        cache = {k: v for k, v in cache.items() if not k.startswith(f"{real}|")}
        cache[key] = digest
        _store_hash_cache(cache)
    if real.parent.name == "blobs" and _SHA256_NAME.match(real.name) and real.name != digest:
        raise EnvironmentProblem(
            f"{role} file {given} is damaged: its Hugging Face cache blob {real} should hash to its own name, "
            f"but its SHA-256 is {digest}",
            f"delete {real} and the link to it, then " + _REDOWNLOAD,
        )
    return {"role": role, "path": str(given), "bytes": stat.st_size, "sha256": digest}

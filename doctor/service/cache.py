"""The result cache's key: equal request, seed, model file hashes and drdoctor version -> equal song.

Paths in a request name files whose content matters (lyrics, reference clip, model weights), so the key
holds their SHA-256, not their names; where the song is written (out, run folder) and how long it may
take (timeout) do not change the song and stay out of the key.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from doctor import __version__
from runner import locations
from runner.atomic import write_text_atomic
from runner.request import Request

NOT_IN_KEY = ("out", "run_dir", "timeout", "resume")
INPUT_FILES = ("lyrics", "ref_audio", "style_embedding", "edit", "continue_song")
WEIGHT_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".bin", ".npy", ".json")
MAX_DEPTH = 5  # a Hugging Face cache under --models: models--X/snapshots/REV/FILE


def _hash_cache_file() -> Path:
    # the same file and key format as the runner's weight fingerprints (runner/weights.py), so a file
    # hashed by either side is not read again by the other
    return locations.cache_dir() / "sha256.json"


def sha256_of(path: Path) -> str:
    real = Path(os.path.realpath(path))
    stat = real.stat()
    key = f"{real}|{stat.st_size}|{stat.st_mtime_ns}"
    try:
        cache = json.loads(_hash_cache_file().read_text(encoding="utf-8"))
        cache = cache if isinstance(cache, dict) else {}
    except (OSError, ValueError):
        cache = {}
    if isinstance(cache.get(key), str):
        return cache[key]
    digest = hashlib.sha256()
    with real.open("rb") as handle:
        while block := handle.read(8 << 20):
            digest.update(block)
    cache = {k: v for k, v in cache.items() if not k.startswith(f"{real}|")}
    cache[key] = digest.hexdigest()
    try:
        write_text_atomic(_hash_cache_file(), json.dumps(cache, indent=0, sort_keys=True))
    except OSError:
        pass  # a cache that cannot be written only costs time
    return cache[key]


def _files_under(folder: Path, depth: int = 0) -> list[Path]:
    found: list[Path] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return found
    for entry in entries:
        if entry.is_dir() and depth < MAX_DEPTH:
            found += _files_under(entry, depth + 1)
        elif entry.is_file() and entry.suffix in WEIGHT_SUFFIXES:
            found.append(entry)
    return found


def model_files(request: Request) -> list[Path]:
    files: list[Path] = []
    if request.bundle:
        files += [p for p in sorted(Path(request.bundle).iterdir()) if p.is_file()]
    if request.models:
        files += _files_under(Path(request.models))
    files += [Path(item.partition("=")[2]) for item in request.model_file]
    return files


def input_files(request: Request) -> list[Path]:
    files = [Path(getattr(request, name)) for name in INPUT_FILES if getattr(request, name)]
    if request.style_from:
        files.append(Path(request.style_from) / "style.pt")
    return files


def cache_key(request: Request) -> str:
    """Raises OSError for a file that cannot be read (the caller refuses the request, naming it)."""
    fields = {k: v for k, v in request.to_json().items() if k not in NOT_IN_KEY}
    hashes = {str(p): sha256_of(p) for p in model_files(request) + input_files(request)}
    material: dict[str, Any] = {"request": fields, "files": hashes, "drdoctor": __version__}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode("utf-8")).hexdigest()

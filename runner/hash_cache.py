"""The one SHA-256 cache for weight files (the doctor's `--deep` and the runner's fingerprints share it).

Hashing gigabytes takes seconds to minutes, so a digest is kept in `<cache_dir>/sha256.json`, keyed by the
file's real path. It is reused only while the file's inode, size, mtime AND inode change time (ctime) are
all unchanged: bytes rewritten in place with the old mtime put back (`touch -r`, `os.utime`) still move
the ctime, which no user call can set back.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from runner import locations
from runner.atomic import write_text_atomic

CHUNK = 8 << 20


def cache_file(env: Mapping[str, str] | None = None) -> Path:
    return locations.cache_dir(env) / "sha256.json"


def _stamp(stat: os.stat_result) -> list[int]:
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _load(store: Path) -> dict[str, dict]:
    try:
        data = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def sha256(path: Path | str, *, env: Mapping[str, str] | None = None) -> str:
    """The file's SHA-256 (OSError when it cannot be read), from the cache while the file is unchanged."""
    real = Path(os.path.realpath(path))
    stamp = _stamp(real.stat())
    store = cache_file(env)
    cache = _load(store)
    entry = cache.get(str(real))
    if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    digest = sha256_file(real)
    after = _stamp(real.stat())
    if after == stamp:  # not written to while it was read: safe to remember
        cache = {k: v for k, v in _load(store).items() if os.path.exists(k)}  # re-read (another process), pruned
        cache[str(real)] = {"stamp": stamp, "sha256": digest}
        try:
            write_text_atomic(store, json.dumps(cache, indent=0, sort_keys=True))
        except OSError:
            pass  # a cache that cannot be written only costs the next run its speed
    return digest

"""`--deep`: hash Hugging Face blobs and compare with their names (a blob's name is its SHA-256).

Results are cached by (path, size, mtime) in `$XDG_CACHE_HOME/drdoctor/blob-hashes.json`, so a
second run over multi-GB weights costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from doctor.probes._fs import at
from doctor.probes.models import ModelsFacts
from runner import locations
from runner.atomic import write_text_atomic

CHUNK = 8 << 20
SHA256_NAME = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class BlobCheck:
    path: str  # the blob, as the machine sees it
    expected: str
    actual: str | None  # None when it could not be read

    @property
    def ok(self) -> bool:
        return self.actual == self.expected


def cache_file(env: Mapping[str, str]) -> Path:
    return locations.cache_dir(env) / "blob-hashes.json"


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def probe(root: Path, models: ModelsFacts, env: Mapping[str, str]) -> tuple[BlobCheck, ...]:
    store = cache_file(env)
    try:
        cache = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    checks = []
    blobs = {copy.blob for weight in models.weights for copy in weight.copies if copy.blob and copy.size}
    for blob in sorted(blobs):
        name = Path(blob).name
        if not SHA256_NAME.fullmatch(name):
            continue
        path = at(root, blob)
        try:
            stat = path.stat()
        except OSError:
            continue
        key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
        actual = cache.get(key) or _sha256(path)
        if actual:
            cache[key] = actual
        checks.append(BlobCheck(blob, name, actual))
    try:
        write_text_atomic(store, json.dumps(cache, indent=0))
    except OSError:
        pass  # an unwritable cache only costs the next run its speed
    return tuple(checks)

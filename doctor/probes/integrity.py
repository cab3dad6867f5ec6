"""`--deep`: hash Hugging Face blobs and compare with their names (a blob's name is its SHA-256).

The digests come from the one hash cache the runner uses too (`runner.hash_cache`): reused only while the
blob's inode, size, mtime and inode change time are unchanged, so bytes rewritten in place are rehashed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from doctor.probes._fs import at
from doctor.probes.models import ModelsFacts
from runner import hash_cache

SHA256_NAME = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class BlobCheck:
    path: str  # the blob, as the machine sees it
    expected: str
    actual: str | None  # None when it could not be read

    @property
    def ok(self) -> bool:
        return self.actual == self.expected


def probe(root: Path, models: ModelsFacts, env: Mapping[str, str]) -> tuple[BlobCheck, ...]:
    blobs = {f.blob for weight in models.weights for copy in weight.copies for f in copy.files if f.blob and f.size}
    checks = []
    for blob in sorted(blobs):
        name = Path(blob).name
        if not SHA256_NAME.fullmatch(name):
            continue
        try:
            actual: str | None = hash_cache.sha256(at(root, blob), env=env)
        except OSError:
            actual = None
        checks.append(BlobCheck(blob, name, actual))
    return tuple(checks)

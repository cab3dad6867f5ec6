"""What state one model or data file is in: fine, missing, empty, a git-lfs pointer, too small."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from doctor.assets import assets
from doctor.probes._fs import seen


@dataclass(frozen=True)
class FileState:
    path: str  # as the machine sees it
    state: str  # "ok", "missing", "dangling" (a link to nothing), "empty", "lfs_pointer", "too_small"
    size: int | None
    min_bytes: int
    blob: str | None = None  # for a Hugging Face snapshot link: the blob it points at (as seen)

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def _is_lfs_pointer(path: Path, size: int) -> bool:
    if size > assets()["lfs_pointer_max_bytes"]:
        return False
    prefix = assets()["lfs_pointer_prefix"].encode()
    try:
        with path.open("rb") as handle:
            return handle.read(len(prefix)) == prefix
    except OSError:
        return False


def classify(root: Path, path: Path, min_bytes: int) -> FileState:
    where = seen(root, path)
    blob = None
    if path.is_symlink():
        target = Path(os.path.normpath(path.parent / os.readlink(path)))
        blob = seen(root, target)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return FileState(where, "dangling" if blob else "missing", None, min_bytes, blob)
    except OSError:
        return FileState(where, "missing", None, min_bytes, blob)
    if size == 0:
        state = "empty"
    elif _is_lfs_pointer(path, size):
        state = "lfs_pointer"
    elif size < min_bytes:
        state = "too_small"
    else:
        state = "ok"
    return FileState(where, state, size, min_bytes, blob)

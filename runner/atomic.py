"""The one atomic file write: content goes to a hidden sibling, is fsynced, then renamed over the target.

A reader never sees a half-written file, and a failure (a full disk, Ctrl-C, an exception in the
writer) leaves the target as it was and no temporary file behind. Torch-free: the doctor uses it too.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path | str, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; once the block has written it, it replaces `path`.

    The new file keeps the mode of the file it replaces, else takes `mode` (else mkstemp's 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    existing_mode = path.stat().st_mode & 0o7777 if path.exists() else None
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with tmp.open("rb+") as written:
            os.fsync(written.fileno())
        final_mode = existing_mode if existing_mode is not None else mode
        if final_mode is not None:
            os.chmod(tmp, final_mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path | str, data: bytes, mode: int | None = None) -> int:
    """Write `data` to `path` atomically; returns the number of bytes written."""
    with atomic_path(path, mode) as tmp:
        tmp.write_bytes(data)
    return len(data)


def write_text_atomic(path: Path | str, text: str, mode: int | None = None) -> int:
    return write_bytes_atomic(path, text.encode("utf-8"), mode)


def symlink_atomic(link: Path | str, target: str | os.PathLike[str]) -> None:
    """Make `link` a symlink to `target`, replacing what was there in one rename: a reader sees the old link or
    the new one, never none. OSError where the filesystem has no symlinks (the caller decides what then)."""
    link = Path(link)
    tmp = link.with_name(f".{link.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    try:
        os.symlink(target, tmp)
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

"""A disk that fills up while the run writes a file: exit 3 naming the disk, its free space and the file.

Every file the runner writes (the song, the run folder's artifacts, its event log) goes through `guard`,
which turns "no space left" into `DiskFull`, an environment problem the run can be resumed from once space
is freed (the app adds the run folder's real `--resume` to the remedy). Torch-free.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
from collections.abc import Iterator
from pathlib import Path

from runner.errors import EnvironmentProblem

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in FULL_ERRNOS


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


class DiskFull(EnvironmentProblem):
    resumable = True

    def __init__(self, path: Path | str, what: str, need: int | None = None):
        path = Path(path)
        disk = _existing(path.parent)
        usage = shutil.disk_usage(disk)
        needs = f"; it needs about {mib(need)}" if need else ""
        super().__init__(
            f"no space left on the disk of {disk} while writing {what} {path}: {mib(usage.free)} free of "
            f"{mib(usage.total)}{needs}",
            "free space on that disk (or give --out / --run-dir on another disk)",
        )
        self.path, self.disk, self.free = path, disk, usage.free


@contextlib.contextmanager
def guard(path: Path | str, what: str, need: int | None = None) -> Iterator[None]:
    """Run a write of `path`; a full disk (or quota) becomes DiskFull, anything else passes through."""
    try:
        yield
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise DiskFull(path, what, need) from exc

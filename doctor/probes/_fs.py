"""Reading the machine's files through a root folder, so tests can point probes at a fixture tree."""

from __future__ import annotations

from pathlib import Path

SYSTEM_ROOT = Path("/")


def at(root: Path, path: str | Path) -> Path:
    """`path` (absolute, as the machine sees it) inside `root`."""
    return root / str(path).lstrip("/")


def seen(root: Path, path: Path) -> str:
    """A path under `root` as the machine sees it: the form every fact and message uses."""
    try:
        relative = path.relative_to(root)
    except ValueError:
        return str(path)
    return "/" if relative == Path(".") else "/" + relative.as_posix()


def read_text(path: Path, limit: int = 1 << 20) -> str | None:
    """The file's text (at most `limit` bytes), or None when it cannot be read."""
    try:
        with path.open("rb") as handle:
            return handle.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return None


def exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False

"""What state one model or data file is in, judged by its first bytes (`runner.weight_files`, as the runner does)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from doctor.probes._fs import seen
from runner.family import WeightFile
from runner.weight_files import judge


@dataclass(frozen=True)
class FileState:
    path: str  # as the machine sees it
    state: str  # "ok", "too_small", or what the file is when unusable (a runner.weight_files kind: "lfs_pointer", ...)
    size: int | None
    problem: str = ""  # in words; "" when ok
    blob: str | None = None  # for a Hugging Face snapshot link: the blob it points at (as seen)

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def classify(root: Path, path: Path, expected: WeightFile, *, size_bound: bool = False) -> FileState:
    """`size_bound`: also refuse a file under `expected.min_bytes` (the checkout's data files, whose formats
    say nothing about truncation)."""
    verdict = judge(path, expected)
    found = verdict.sniffed
    blob = seen(root, found.blob) if found.blob is not None else None
    where = seen(root, path)
    if not verdict.ok:
        state = found.kind if verdict.problem == found.text else "wrong_format"
        return FileState(where, state, found.size, verdict.problem, blob)
    if size_bound and found.size is not None and found.size < expected.min_bytes:
        return FileState(where, "too_small", found.size,
                         f"smaller than any complete copy ({found.size} bytes, at least {expected.min_bytes}): truncated", blob)
    return FileState(where, "ok", found.size, "", blob)


def data_file(root: Path, path: Path, min_bytes: int) -> FileState:
    """A checkout data file: any format, at least `min_bytes`."""
    return classify(root, path, WeightFile(path.name, None, None, min_bytes, ("any",)), size_bound=True)

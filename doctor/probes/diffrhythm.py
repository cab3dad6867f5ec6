"""The DiffRhythm checkout: where it is, and whether the files inference reads are all there."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from doctor import discovery
from doctor.probes._fs import at, seen
from doctor.probes.files import FileState, data_file
from runner import locations
from runner.family import family


@dataclass(frozen=True)
class CheckoutFacts:
    path: str | None  # the checkout as the machine sees it, or None when none was found
    source: str | None  # how it was found: "--diffrhythm", "config", "DIFFRHYTHM_ROOT", ...
    tried: tuple[str, ...]  # the places looked at that hold no checkout
    files: tuple[FileState, ...]  # the checkout files of assets.json
    free_bytes: int | None  # free space on the checkout's disk (outputs and ./pretrained go there)
    git: bool = False  # a git clone (broken files can be restored from its history)


def expand(path: str, env: Mapping[str, str]) -> str:
    """`~` from the probed environment's HOME, relative paths from the current directory."""
    return str(locations.expand(path, env))


def free_bytes(folder: Path) -> int | None:
    """Free space on the disk that holds `folder` (or its nearest existing parent)."""
    for candidate in (folder, *folder.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def probe(root: Path, explicit: str | None, configured: str | None, env: Mapping[str, str]) -> CheckoutFacts:
    path, source, tried = discovery.find_checkout(root, explicit, configured, env)
    if path is None:
        return CheckoutFacts(None, None, tried, (), None)
    folder = at(root, path)
    files = tuple(data_file(root, folder / item.path, item.min_bytes) for item in family().checkout_files)
    return CheckoutFacts(seen(root, folder), source, tried, files, free_bytes(folder), (folder / ".git").exists())

"""The DiffRhythm checkout: where it is, and whether the files inference reads are all there."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from doctor.assets import assets
from doctor.probes._fs import at, exists, seen
from doctor.probes.files import FileState, data_file
from runner import locations


@dataclass(frozen=True)
class CheckoutFacts:
    path: str | None  # the checkout as the machine sees it, or None when none was found
    source: str | None  # how it was found: "--diffrhythm", "config", "DIFFRHYTHM_ROOT", ...
    tried: tuple[str, ...]  # the places looked at that hold no checkout
    files: tuple[FileState, ...]  # the checkout files of assets.json
    free_bytes: int | None  # free space on the checkout's disk (outputs and ./pretrained go there)


def expand(path: str, env: Mapping[str, str]) -> str:
    """`~` from the probed environment's HOME, relative paths from the current directory."""
    return str(locations.expand(path, env))


def candidates(explicit: str | None, configured: str | None, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(path, how it was named) in the order they are tried; an explicit folder is the only one."""
    if explicit:
        return [(expand(explicit, env), "--diffrhythm")]
    found = []
    if configured:
        found.append((expand(configured, env), "config [diffrhythm] root"))
    if env.get("DIFFRHYTHM_ROOT"):
        found.append((expand(env["DIFFRHYTHM_ROOT"], env), "DIFFRHYTHM_ROOT"))
    found.append((os.getcwd(), "current directory"))
    found += [(expand(place, env), "usual place") for place in assets()["usual_checkout_places"]]
    return found


def is_checkout(folder: Path) -> bool:
    return any(exists(folder / marker) for marker in assets()["checkout_markers"])


def free_bytes(folder: Path) -> int | None:
    """Free space on the disk that holds `folder` (or its nearest existing parent)."""
    for candidate in (folder, *folder.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def probe(root: Path, explicit: str | None, configured: str | None, env: Mapping[str, str]) -> CheckoutFacts:
    tried = []
    for path, source in candidates(explicit, configured, env):
        folder = at(root, path)
        if is_checkout(folder):
            files = tuple(data_file(root, folder / item["path"], item["min_bytes"]) for item in assets()["checkout_files"])
            return CheckoutFacts(seen(root, folder), source, tuple(tried), files, free_bytes(folder))
        tried.append(path if source == "usual place" else f"{path} ({source})")
    return CheckoutFacts(None, None, tuple(tried), (), None)

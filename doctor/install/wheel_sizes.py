"""What a lock's torch and CUDA-library wheels weigh: measured when the lock is generated, kept in its header.

A CUDA build of torch also runs on the CPU; what it costs there is the download and disk of its CUDA libraries
(nvidia-*, cuda-*, triton), which only a GPU uses. The sizes are those of the very files the lock's hashes name
for the family's platform, read from where the lock was resolved: a wheel folder's files, or a package index's
PEP 691 JSON pages (the `size` of each file, as pip and uv read them).
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)

CUDA_LIBRARY = re.compile(r"^(nvidia-|cuda-|triton$)")
PEP691 = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class Entry:
    name: str
    version: str
    hashes: frozenset[str]


def entries(lock_text: str) -> list[Entry]:
    """Every `name==version` of a lock with the sha256 hashes listed under it."""
    found: list[Entry] = []
    name = version = None
    hashes: set[str] = set()
    for line in lock_text.splitlines():
        if line[:1].isalnum() and "==" in line:
            if name:
                found.append(Entry(name, version, frozenset(hashes)))
            spec = line.split()[0]
            name, version = canonicalize_name(spec.split("==")[0]), spec.split("==")[1]
            hashes = set()
        hashes.update(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
    if name:
        found.append(Entry(name, version, frozenset(hashes)))
    return found


def measured_packages(lock_text: str) -> list[Entry]:
    return [e for e in entries(lock_text) if e.name == "torch" or CUDA_LIBRARY.match(e.name)]


def fits(filename: str, python: str, arch: str) -> bool:
    """A wheel for CPython `python` ("3.11") on Linux `arch`, or a pure one."""
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    cp = "cp" + python.replace(".", "")
    return any(t.interpreter in (cp, "py3", "py" + python.replace(".", "")) and
               (t.platform == "any" or (t.platform.endswith(arch) and "linux" in t.platform)) for t in tags)


def _from_folder(folder: Path, entry: Entry, python: str, arch: str) -> int | None:
    stem = entry.name.replace("-", "_")
    for path in sorted(folder.glob("*.whl")):
        if canonicalize_name(path.name.split("-")[0]) != canonicalize_name(stem) or not fits(path.name, python, arch):
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() in entry.hashes:
            return path.stat().st_size
    return None


def _from_index(index: str, entry: Entry, python: str, arch: str, timeout: float) -> int | None:
    request = urllib.request.Request(f"{index.rstrip('/')}/{entry.name}/", headers={"Accept": PEP691})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            files = json.loads(response.read()).get("files", [])
    except (OSError, ValueError):
        return None
    sizes = [f.get("size") for f in files if (f.get("hashes") or {}).get("sha256") in entry.hashes
             and fits(f.get("filename", ""), python, arch) and isinstance(f.get("size"), int)]
    return max(sizes) if sizes else None


def measure(lock_text: str, *, python: str, platform: str, indexes: list[str], folders: list[str],
            timeout: float = 20.0) -> dict:
    """{"torch": bytes, "cuda_libraries": bytes, "unmeasured": [names]} for the lock's measured packages."""
    arch = platform.split("-", 1)[0]
    out = {"torch": 0, "cuda_libraries": 0, "unmeasured": []}
    for entry in measured_packages(lock_text):
        size = None
        for folder in folders:
            size = size or _from_folder(Path(folder.removeprefix("file://")), entry, python, arch)
        for index in indexes:
            if size is None and index.startswith(("http://", "https://")):
                size = _from_index(index, entry, python, arch, timeout)
        if size is None:
            out["unmeasured"].append(entry.name)
        else:
            out["torch" if entry.name == "torch" else "cuda_libraries"] += size
    return out

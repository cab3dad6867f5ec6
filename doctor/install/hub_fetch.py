"""One weight file from the Hugging Face Hub into the Hugging Face cache layout, verified, resumable.

huggingface_hub gives the URL, the headers, the HTTP session, the file's metadata (ETag, X-Repo-Commit,
size) and the lock file; the bytes are fetched here with ranged GETs because huggingface_hub 2.x writes
each process's partial download to its own `<blob>.<8 hex>.incomplete` and never continues another
process's (and 2.4 does not check the bytes against the ETag in cache mode). So:

- a partial left by an earlier process (ours: `<blob>.incomplete`, huggingface_hub's: `<blob>.*.incomplete`)
  is continued from its end with `Range: bytes=N-`;
- the whole blob is hashed while it arrives (the partial's bytes first) and compared with the ETag: SHA-256
  for an LFS file (64 hex), git's blob SHA-1 for a small file (40 hex), and the family's sha256 when known;
- only a matching blob is renamed into `blobs/`, and only then is `snapshots/<commit>/<file>` linked to it
  (and `refs/<branch>` written when the revision is a branch): a refused download records nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from doctor.install.progress import Events, FileProgress
from doctor.units import gib
from runner import hf_cache
from runner.atomic import atomic_path, symlink_atomic
from runner.family import WeightFile, WeightRole
from runner.hf_cache import feed, file_digest, repo_folder

CHUNK = 1 << 20
COMMIT = re.compile(r"[0-9a-f]{40}")


class FetchError(Exception):
    """A download that cannot go on; `kind` is "unreachable", "refused" (bytes do not match), "space" or "http"."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Wanted:
    """One file of a family's weight role."""

    role: WeightRole
    file: WeightFile

    @property
    def repo(self) -> str:
        return self.role.repo

    @property
    def name(self) -> str:
        return self.file.name

    @property
    def revision(self) -> str:
        return self.role.revision

    @property
    def size(self) -> int | None:
        return self.file.size

    @property
    def sha256(self) -> str | None:
        return self.file.sha256


@dataclass(frozen=True)
class Fetched:
    path: Path           # snapshots/<commit>/<name>
    state: str           # "present", "downloaded", "resumed"
    fetched_bytes: int   # bytes that came over the network this time


def present(cache: Path, wanted: Wanted, verify: bool) -> Path | None:
    """The file complete in the cache, by the one resolver's judgement (runner.hf_cache.complete_in_cache)."""
    return hf_cache.complete_in_cache(wanted.role, wanted.file, cache, verify)


def pointer_path(cache: Path, wanted: Wanted, commit: str) -> Path:
    return repo_folder(cache, wanted.repo) / "snapshots" / commit / wanted.name


def partials(cache: Path, repo: str, etag: str) -> list[Path]:
    """Partial downloads of this blob by any process (the resolver knows both names: `<etag>.incomplete`,
    and huggingface_hub 2.x's `<etag>.<8 hex>.incomplete`); the longest first."""
    found = [p for p in hf_cache.partials(cache, repo) if p.blob == etag and p.size is not None]
    return [p.path for p in sorted(found, key=lambda p: p.size or 0, reverse=True)]


def _link(pointer: Path, blob: Path) -> None:
    pointer.parent.mkdir(parents=True, exist_ok=True)
    try:
        symlink_atomic(pointer, os.path.relpath(blob, pointer.parent))
    except OSError:  # a filesystem without symlinks: a copy, as huggingface_hub does
        with atomic_path(pointer) as tmp:
            shutil.copyfile(blob, tmp)


def _metadata(wanted: Wanted, timeout: float):
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import (
        EntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    url = hf_hub_url(wanted.repo, wanted.name, revision=wanted.revision)
    try:
        return url, get_hf_file_metadata(url, timeout=timeout)
    except (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise FetchError("http", f"{wanted.repo}/{wanted.name}@{wanted.revision}: {str(exc).splitlines()[0]}") from exc
    except Exception as exc:  # connection refused, DNS, timeouts, offline mode: the Hub cannot be reached
        raise FetchError("unreachable", f"the Hugging Face Hub ({endpoint()}) cannot be reached: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc


def endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


@dataclass(frozen=True)
class Remote:
    """What the Hub says about one file: where to GET it, its ETag (the blob name), commit and size."""

    url: str
    etag: str
    commit: str
    size: int


def remote(wanted: Wanted, timeout: float = 10.0) -> Remote:
    """The file's metadata from the Hub (one HEAD); FetchError when it cannot be had or contradicts the family."""
    url, meta = _metadata(wanted, timeout)
    etag, commit, size = meta.etag, meta.commit_hash, meta.size
    name = f"{wanted.repo}/{wanted.name}"
    if not etag or not commit or not COMMIT.fullmatch(commit) or size is None:
        raise FetchError("http", f"{name}: the server's answer lacks an ETag, X-Repo-Commit or size")
    if wanted.sha256 and len(etag) == 64 and etag != wanted.sha256:
        raise FetchError("refused", f"{name}: the Hub serves sha256 {etag}, the family pins {wanted.sha256}; "
                         "nothing was downloaded")
    if wanted.size is not None and size != wanted.size:
        raise FetchError("refused", f"{name}: the Hub serves {size} bytes, the family pins {wanted.size}")
    return Remote(url, etag, commit, size)


def partial_bytes(cache: Path, wanted: Wanted, where: Remote) -> int:
    """Bytes of this file already on disk from an interrupted download (any process's)."""
    found = partials(cache, wanted.repo, where.etag)
    return min(found[0].stat().st_size, where.size) if found else 0


def fetch(wanted: Wanted, cache: Path, where: Remote, events: Events, out: TextIO, *, verify: bool = False) -> Fetched:
    """Make `wanted` complete in the cache from `where`: continued from a partial, or downloaded."""
    from huggingface_hub.utils import WeakFileLock

    folder = repo_folder(cache, wanted.repo)
    blobs = folder / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    blob = blobs / where.etag
    locks = cache / ".locks" / folder.name
    locks.mkdir(parents=True, exist_ok=True)
    with WeakFileLock(locks / f"{where.etag}.lock"):
        state, fetched = "present", 0
        whole = blob.is_file() and blob.stat().st_size == where.size
        if not (whole and (not verify or file_digest(blob, where.etag) == where.etag)):
            if blob.exists():
                blob.unlink()  # a wrong blob under this name: replaced, never trusted
            state, fetched = _download(where.url, wanted, where.etag, where.size, cache, events, out)
        pointer = pointer_path(cache, wanted, where.commit)
        _link(pointer, blob)
        if not COMMIT.fullmatch(wanted.revision):
            ref = folder / "refs" / wanted.revision
            ref.parent.mkdir(parents=True, exist_ok=True)
            ref.write_text(where.commit, encoding="utf-8")
    return Fetched(pointer, state, fetched)


def _download(url: str, wanted: Wanted, etag: str, size: int, cache: Path, events: Events,
              out: TextIO) -> tuple[str, int]:
    from huggingface_hub.utils import build_hf_headers, get_session

    name = f"{wanted.repo}/{wanted.name}"
    blobs = repo_folder(cache, wanted.repo) / "blobs"
    partial = blobs / f"{etag}.incomplete"
    candidates = partials(cache, wanted.repo, etag)
    if candidates and candidates[0] != partial:
        os.replace(candidates[0], partial)  # continue the longest; the rest are duplicates
    for other in partials(cache, wanted.repo, etag):
        if other != partial:
            other.unlink(missing_ok=True)
    start = partial.stat().st_size if partial.exists() else 0
    if start > size:
        partial.unlink()
        start = 0
    free = shutil.disk_usage(blobs).free
    if size - start > free:
        raise FetchError("space", f"{name} needs {gib(size - start)} more in {blobs}, only {gib(free)} is free")
    digest = hashlib.sha1(f"blob {size}\0".encode()) if len(etag) == 40 else hashlib.sha256()
    if start:
        feed(digest, partial)
    progress = FileProgress(wanted.repo, wanted.name, size, start, events, out)
    if start:
        out.write(f"    {wanted.name}: continuing the partial download at {gib(start)} of {gib(size)}\n")
    headers = build_hf_headers()
    headers["Accept-Encoding"] = "identity"
    if start < size:
        headers["Range"] = f"bytes={start}-"
    fetched = 0
    try:
        with get_session().stream("GET", url, headers=headers, follow_redirects=True, timeout=30) as response:
            if response.status_code == 200 and start:
                # the server ignored the range: start again from the first byte
                start = 0
                digest = hashlib.sha1(f"blob {size}\0".encode()) if len(etag) == 40 else hashlib.sha256()
                partial.unlink(missing_ok=True)
                progress = FileProgress(wanted.repo, wanted.name, size, 0, events, out)
            elif response.status_code not in (200, 206, 416):
                raise FetchError("http", f"{name}: GET {url} answered HTTP {response.status_code}")
            with partial.open("ab") as handle:
                if response.status_code != 416:
                    for block in response.iter_bytes(CHUNK):
                        handle.write(block)
                        digest.update(block)
                        fetched += len(block)
                        progress.advance(len(block))
                handle.flush()
                os.fsync(handle.fileno())
    except FetchError:
        raise
    except OSError as exc:
        raise FetchError("space" if exc.errno == 28 else "http", f"{name}: writing {partial} failed: {exc}") from exc
    except Exception as exc:  # the connection dropped: the partial stays for the next run
        raise FetchError("unreachable", f"{name}: the download broke off after {gib(start + fetched)} of "
                         f"{gib(size)} ({type(exc).__name__}: {exc}); run again to continue it") from exc
    got_size = partial.stat().st_size
    actual = digest.hexdigest()
    expected = wanted.sha256 if wanted.sha256 and len(etag) == 64 else etag
    if got_size != size or actual != expected:
        partial.unlink(missing_ok=True)
        message = (f"{name}: the downloaded bytes do not match: expected {expected} ({size} bytes), got {actual} "
                   f"({got_size} bytes); the file was discarded and nothing was recorded")
        events.emit("download_refused", repo=wanted.repo, file=wanted.name, message=message)
        raise FetchError("refused", message)
    os.replace(partial, blobs / etag)
    progress.finished(actual)
    return ("resumed" if start else "downloaded"), fetched

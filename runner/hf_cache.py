"""The one weight resolver: every copy of a family's weight role in Hugging Face caches and plain folders.

Driven by the family data (`runner.family`): a role's repository and its aliases, every file it needs, the
names it has in a plain folder. It knows the cache layout (`models--ORG--NAME/refs/<rev>` -> `snapshots/<commit>/
FILE` -> `blobs/<etag>`), and both names of an interrupted download: `<blob>.incomplete` (huggingface_hub
before 1.0) and `<blob>.<8 hex>.incomplete` (2.x, one per process). Torch-free and stdlib-only: the doctor's
probe, the fixes, the installer and the runner all call it; none of them walks a cache by itself.

Where it looks, in order: a path given for the role itself (`--model-file ROLE=PATH`, the config's
`[models] ROLE`), the models folders (`--models`, else the config's `[models] dir`; each both a cache and a
plain folder), the checkout's `pretrained/` (upstream's `cache_dir="./pretrained"`), then the Hugging Face
hub cache (`runner.locations.hf_hub_cache`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner import locations
from runner.family import WeightFile, WeightRole
from runner.weight_files import Verdict, judge

CHUNK = 1 << 20
PARTIAL_NAME = re.compile(r"^(?P<blob>[0-9a-f]{40}|[0-9a-f]{64})(?:\.(?P<process>[0-9a-f]{8}))?\.incomplete$")


def repo_folder(cache: Path, repo: str) -> Path:
    return cache / ("models--" + repo.replace("/", "--"))


def repo_of_folder(name: str) -> str | None:
    """`models--ORG--NAME` -> `ORG/NAME` (`models--NAME` -> `NAME`)."""
    if not name.startswith("models--"):
        return None
    return name[len("models--"):].replace("--", "/", 1)


def _there(path: Path) -> bool:
    try:
        return path.is_symlink() or path.exists()
    except OSError:
        return False


@dataclass(frozen=True)
class Partial:
    """An interrupted download in a cache's `blobs/`."""

    path: Path
    blob: str  # the etag it was meant to become
    per_process: bool  # the 2.x name: a new process starts it from zero

    @property
    def size(self) -> int | None:
        try:
            return self.path.stat().st_size
        except OSError:
            return None


@dataclass(frozen=True)
class Copy:
    """One place holding (some of) a role's files: a snapshot, a plain folder, or a configured file."""

    role: WeightRole
    files: Mapping[str, Path]  # the role's file name -> the path found there (a missing name is absent)
    kind: str  # how it was found: "Hugging Face cache", "plain folder", "config [models] vae"
    place: Path | None = None  # the cache or folder searched (None for a configured path)
    folder: Path | None = None  # the snapshot or plain folder (None for one configured file)
    repo: str | None = None  # the repository name it was found under (cache copies)
    revision: str | None = None  # the snapshot folder name
    cache: Path | None = None  # the cache folder (cache copies)

    @property
    def source(self) -> str:
        return f"{self.kind} {self.place}" if self.place is not None else self.kind

    @property
    def path(self) -> Path:
        """What a loader is given: the folder for a whole repository, else the one file."""
        if self.role.whole_repo and self.folder is not None:
            return self.folder
        return self.files.get(self.role.files[0].name) or (self.folder or Path("?")) / self.role.files[0].name


@dataclass(frozen=True)
class Found:
    role: WeightRole
    copies: tuple[Copy, ...]  # in search order
    partials: tuple[Partial, ...]


@dataclass(frozen=True)
class Places:
    """Where to look; all paths as this process reads them."""

    models_dirs: tuple[Path, ...] = ()  # searched as caches and as plain folders
    configured: Mapping[str, Path] = field(default_factory=dict)  # role config_key -> a file or folder
    caches: tuple[Path, ...] = ()  # Hugging Face caches only (the checkout's pretrained/, the hub cache)

    @property
    def all_caches(self) -> tuple[Path, ...]:
        return tuple(dict.fromkeys((*self.models_dirs, *self.caches)))


def places(
    checkout: Path | str | None,
    models_dirs: Iterable[Path | str] = (),
    configured: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    at: Callable[[Path], Path] = lambda p: p,
) -> Places:
    """The search places of one install. `configured` is the config's [models] table (`dir` and per-role
    paths); `at` maps a machine path into a fixture root (the doctor's probes)."""
    configured = dict(configured or {})
    dirs = [at(locations.expand(str(d), env)) for d in models_dirs]
    if isinstance(configured.get("dir"), str):
        dirs.append(at(locations.expand(configured["dir"], env)))
    paths = {k: at(locations.expand(v, env)) for k, v in configured.items() if k != "dir" and isinstance(v, str) and v}
    caches = [at(Path(checkout) / "pretrained")] if checkout else []
    caches.append(at(locations.hf_hub_cache(env)))
    return Places(tuple(dict.fromkeys(dirs)), paths, tuple(dict.fromkeys(caches)))


def snapshot_order(folder: Path, revision: str = "main") -> list[Path]:
    """The snapshots of one cached repository: the one `refs/<revision>` names first, then newest first."""
    snapshots = folder / "snapshots"
    try:
        present = [p for p in snapshots.iterdir() if p.is_dir()]
    except OSError:
        return []
    order: list[Path] = []
    try:
        named = snapshots / (folder / "refs" / revision).read_text(encoding="utf-8").strip()
        if named in present:
            order.append(named)
    except OSError:
        pass

    def changed(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    order += sorted((p for p in present if p not in order), key=changed, reverse=True)
    return order


def partials(cache: Path, repo: str) -> list[Partial]:
    blobs = repo_folder(cache, repo) / "blobs"
    try:
        names = sorted(p.name for p in blobs.iterdir())
    except OSError:
        return []
    found = []
    for name in names:
        match = PARTIAL_NAME.match(name)
        if match:
            found.append(Partial(blobs / name, match["blob"], match["process"] is not None))
    return found


def _pick(folder: Path, wanted: WeightFile) -> Path | None:
    for name in wanted.names:
        if _there(folder / name):
            return folder / name
    return None


def _folder_copy(role: WeightRole, folder: Path, kind: str, place: Path | None, **where: object) -> Copy | None:
    files = {f.name: p for f in role.files if (p := _pick(folder, f)) is not None}
    return Copy(role, files, kind, place, folder, **where) if files else None  # type: ignore[arg-type]


def _cache_copies(role: WeightRole, cache: Path) -> list[Copy]:
    copies = []
    for repo in role.repos:
        for snapshot in snapshot_order(repo_folder(cache, repo), role.revision):
            copy = _folder_copy(role, snapshot, "Hugging Face cache", cache, repo=repo, revision=snapshot.name,
                                cache=cache)
            if copy:
                copies.append(copy)
    return copies


def _plain_copies(role: WeightRole, folder: Path) -> list[Copy]:
    repo_names = [name for repo in role.repos for name in dict.fromkeys((repo.split("/")[-1], repo))]
    copies = []
    if role.whole_repo:
        for name in dict.fromkeys((*role.plain_names, *repo_names)):
            copy = _folder_copy(role, folder / name, "plain folder", folder)
            if copy:
                copies.append(copy)
        return copies
    wanted = role.files[0]
    paths = [folder / n for n in role.plain_names] + [folder / n / wanted.name for n in repo_names]
    for path in paths:
        if _there(path):
            copies.append(Copy(role, {wanted.name: path}, "plain folder", folder, path.parent))
    return copies


def _in_cache(folder: Path) -> dict[str, object]:
    """For a snapshot folder (…/models--ORG--NAME/snapshots/REV): its cache, repository and revision."""
    repo = repo_of_folder(folder.parent.parent.name) if folder.parent.name == "snapshots" else None
    return {"cache": folder.parents[2], "repo": repo, "revision": folder.name} if repo else {}


def _configured_copy(role: WeightRole, path: Path) -> Copy | None:
    """A path from the config (what `models.paths` records: often a snapshot, which keeps its cache)."""
    kind = f"config [models] {role.config_key}"
    folder = path if path.is_dir() else path.parent
    where = _in_cache(folder)
    if path.is_dir() or role.whole_repo:
        return _folder_copy(role, folder, kind, None, **where) or Copy(role, {}, kind, None, folder, **where)  # type: ignore[arg-type]
    return Copy(role, {role.files[0].name: path}, kind, None, None, **where)  # type: ignore[arg-type]


def find(role: WeightRole, where: Places) -> Found:
    copies: list[Copy] = []
    configured = where.configured.get(role.config_key)
    if configured is not None:
        copy = _configured_copy(role, configured)
        if copy:
            copies.append(copy)
    for folder in where.models_dirs:
        copies += _cache_copies(role, folder) + _plain_copies(role, folder)
    for cache in where.caches:
        copies += _cache_copies(role, cache) + _plain_copies(role, cache)
    unique: dict[tuple, Copy] = {}
    for copy in copies:
        unique.setdefault(tuple(sorted((k, str(v)) for k, v in copy.files.items())) or (str(copy.folder),), copy)
    found_partials = [p for cache in where.all_caches for repo in role.repos for p in partials(cache, repo)]
    return Found(role, tuple(unique.values()), tuple(dict.fromkeys(found_partials)))


def searched(where: Places) -> list[str]:
    return [str(p) for p in dict.fromkeys((*where.configured.values(), *where.models_dirs, *where.caches))]


def verdicts(copy: Copy) -> tuple[Verdict, ...]:
    """Each file of the role in this copy, judged by its first bytes (a file not there is judged missing)."""
    folder = copy.folder or Path("/nonexistent")
    return tuple(judge(copy.files.get(f.name, folder / f.name), f) for f in copy.role.files)


def usable(copy: Copy) -> bool:
    return all(v.ok for v in verdicts(copy))


def best(found: Found) -> Copy | None:
    """The first copy, in search order, whose every file is usable."""
    return next((c for c in found.copies if usable(c)), None)


def git_blob_sha1(path: Path) -> str:
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    feed(digest, path)
    return digest.hexdigest()


def feed(digest, path: Path) -> None:
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)


def file_digest(path: Path, etag: str) -> str:
    """The hash an ETag names: SHA-256 for 64 hex digits, git's blob SHA-1 for 40."""
    if len(etag) == 40:
        return git_blob_sha1(path)
    digest = hashlib.sha256()
    feed(digest, path)
    return digest.hexdigest()


def matches_pins(path: Path, wanted: WeightFile, verify: bool = False) -> bool:
    """The family's size and sha256 of a found file, where the family knows them. In a cache a blob's name is its
    ETag (the sha256 of an LFS file, git's SHA-1 of a small one), so a blob of another name is another file;
    `verify` hashes the bytes instead of trusting the name. A file found under an alternative name has no pins."""
    if path.name != Path(wanted.name).name:
        return True
    try:
        blob = path.resolve(strict=True)
        size = blob.stat().st_size
    except (OSError, RuntimeError):
        return False
    if wanted.size is not None and size != wanted.size:
        return False
    name = blob.name
    if wanted.sha256 and len(name) == 64 and name != wanted.sha256:
        return False
    if verify or (wanted.sha256 is None and len(name) not in (40, 64)):
        expected = wanted.sha256 or name
        return len(expected) in (40, 64) and file_digest(blob, expected) == expected
    return True


def complete_in_cache(role: WeightRole, wanted: WeightFile, cache: Path, verify: bool = False) -> Path | None:
    """Where one file of a role is complete in one Hugging Face cache: the path find() finds there for it, in its
    search order, usable by its format (the doctor's and the runner's judgement) and matching the family's pins.
    The installer's "already downloaded?"; None when it is not."""
    for copy in find(role, Places(caches=(cache,))).copies:
        path = copy.files.get(wanted.name)
        if path is not None and judge(path, wanted).ok and matches_pins(path, wanted, verify):
            return path
    return None

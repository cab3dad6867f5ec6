"""A model family as data (`doctor/data/families/<id>.json`): upstream source, weights, system needs, checkout files.

The one reader of that data: the doctor's probes and checks, the installer, the fixes and the runner all ask
it. Torch-free and stdlib-only. The runner may run in an environment where drdoctor is not installed, so
the folder is found from `DRDOCTOR_FAMILIES_DIR` (the launcher sets it) or beside this package.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from runner import locations

DEFAULT_FAMILY = "diffrhythm-1.2"
FAMILIES_ENV = "DRDOCTOR_FAMILIES_DIR"


class FamilyError(ValueError):
    """A family file that is missing or does not follow the schema (names the file and the field)."""


@dataclass(frozen=True)
class WeightFile:
    name: str  # path inside the repository
    size: int | None  # bytes, where known from the hub's own data
    sha256: str | None  # the LFS etag = the cache's blob name, where known
    min_bytes: int  # no complete copy is smaller
    formats: tuple[str, ...]  # what its first bytes may show (runner.weight_files kinds); ("any",) for no rule
    alternatives: tuple[str, ...] = ()  # other names that serve in a local copy (pytorch_model.bin for .safetensors)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.alternatives)


@dataclass(frozen=True)
class WeightRole:
    id: str
    label: str
    repo: str  # the id the loading code passes to huggingface_hub (so its cache folder is the one found offline)
    aliases: tuple[str, ...]
    revision: str
    files: tuple[WeightFile, ...]
    required: bool
    config_key: str
    plain_names: tuple[str, ...]  # file (one-file roles) or folder (whole repositories) names in a plain models folder
    sources: tuple[str, ...]

    @property
    def repos(self) -> tuple[str, ...]:
        return (self.repo, *self.aliases)

    @property
    def whole_repo(self) -> bool:
        """A role loaded with from_pretrained: a folder of several files, not one file."""
        return len(self.files) > 1

    def file(self, name: str) -> WeightFile:
        return next(f for f in self.files if name in f.names)


@dataclass(frozen=True)
class CheckoutFile:
    path: str
    min_bytes: int
    why: str


@dataclass(frozen=True)
class Family:
    id: str
    title: str
    upstream_repo: str
    upstream_commit: str
    weights: tuple[WeightRole, ...]
    espeak_voices: tuple[str, ...]
    espeak_why: str
    checkout_markers: tuple[str, ...]
    checkout_places: tuple[str, ...]
    checkout_files: tuple[CheckoutFile, ...]
    path: Path
    data: Mapping[str, object]  # the whole file, for keys other parts own (e.g. the installer's "environment")

    def weight(self, role_id: str) -> WeightRole:
        for role in self.weights:
            if role.id == role_id:
                return role
        raise KeyError(f"family {self.id} has no weight role {role_id!r} ({', '.join(r.id for r in self.weights)})")


@dataclass(frozen=True)
class InstallLayout:
    """Where `drdoctor install` puts a family and where discovery looks for it: one definition."""

    root: Path  # <data_dir>/<family id>
    checkout: Path  # the upstream source at the pinned commit
    venv: Path  # the inference environment
    python: Path  # its interpreter


def families_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(FAMILIES_ENV):
        return Path(env[FAMILIES_ENV])
    return Path(__file__).resolve().parent.parent / "doctor" / "data" / "families"


def install_layout(family_id: str = DEFAULT_FAMILY, env: Mapping[str, str] | None = None) -> InstallLayout:
    root = locations.data_dir(env) / family_id
    venv = root / "env"
    return InstallLayout(root=root, checkout=root / "checkout", venv=venv, python=venv / "bin" / "python")


def _need(data: Mapping, key: str, kind: type, where: str) -> object:
    value = data.get(key)
    if not isinstance(value, kind):
        raise FamilyError(f"{where}: {key!r} must be a {kind.__name__}, found {type(value).__name__}")
    return value


def _file(data: Mapping, where: str) -> WeightFile:
    size, sha = data.get("size"), data.get("sha256")
    if size is not None and not isinstance(size, int):
        raise FamilyError(f"{where}: 'size' must be an integer or null")
    if sha is not None and (not isinstance(sha, str) or len(sha) != 64):
        raise FamilyError(f"{where}: 'sha256' must be 64 hex digits or null")
    return WeightFile(
        name=str(_need(data, "name", str, where)), size=size, sha256=sha,
        min_bytes=int(_need(data, "min_bytes", int, where)),
        formats=tuple(data.get("formats") or ("any",)), alternatives=tuple(data.get("alternatives") or ()),
    )


def _role(data: Mapping, where: str) -> WeightRole:
    role_id = str(_need(data, "id", str, where))
    where = f"{where} {role_id}"
    files = _need(data, "files", list, where)
    return WeightRole(
        id=role_id, label=str(_need(data, "label", str, where)), repo=str(_need(data, "repo", str, where)),
        aliases=tuple(data.get("aliases") or ()), revision=str(data.get("revision") or "main"),
        files=tuple(_file(f, f"{where} file {i}") for i, f in enumerate(files)),
        required=bool(data.get("required", True)), config_key=str(data.get("config_key") or role_id),
        plain_names=tuple(data.get("plain_names") or ()), sources=tuple(data.get("sources") or ()),
    )


def load(path: Path) -> Family:
    """Read and check one family file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FamilyError(f"no family file {path}") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise FamilyError(f"family file {path} cannot be read: {exc}") from exc
    where = str(path)
    upstream = _need(data, "upstream", dict, where)
    espeak = (data.get("system") or {}).get("espeak-ng") or {}
    return Family(
        id=str(_need(data, "id", str, where)), title=str(data.get("title") or data["id"]),
        upstream_repo=str(_need(upstream, "repo", str, f"{where} upstream")),
        upstream_commit=str(_need(upstream, "commit", str, f"{where} upstream")),
        weights=tuple(_role(w, f"{where} weights") for w in _need(data, "weights", list, where)),
        espeak_voices=tuple(espeak.get("voices") or ()), espeak_why=str(espeak.get("why") or ""),
        checkout_markers=tuple(data.get("checkout_markers") or ()),
        checkout_places=tuple(data.get("checkout_places") or ()),
        checkout_files=tuple(CheckoutFile(str(f["path"]), int(f["min_bytes"]), str(f.get("why", "")))
                             for f in data.get("checkout_files") or ()),
        path=path, data=data,
    )


@lru_cache(maxsize=8)
def _cached(path: str) -> Family:
    return load(Path(path))


def family(family_id: str = DEFAULT_FAMILY, env: Mapping[str, str] | None = None) -> Family:
    """The family of that id, from the families folder (cached per file)."""
    return _cached(str(families_dir(env) / f"{family_id}.json"))


def family_ids(env: Mapping[str, str] | None = None) -> list[str]:
    return sorted(p.stem for p in families_dir(env).glob("*.json"))


def hf_download_argv(
    role: WeightRole, cache_dir: str | Path | None = None, names: tuple[str, ...] = (), force: bool = False
) -> list[str]:
    """`hf download REPO FILE... [--cache-dir DIR] [--force-download]`: every file of the role (or the `names`
    given). The one remedy command; without a cache folder the files go to the hub cache, which is searched."""
    argv = ["hf", "download", role.repo, *(names or tuple(f.name for f in role.files))]
    if role.revision != "main":
        argv += ["--revision", role.revision]
    if cache_dir is not None:
        argv += ["--cache-dir", str(cache_dir)]
    if force:
        argv.append("--force-download")  # a damaged blob under a good snapshot link is otherwise kept
    return argv


def hf_download_command(
    role: WeightRole, cache_dir: str | Path | None = None, names: tuple[str, ...] = (), force: bool = False
) -> str:
    return shlex.join(hf_download_argv(role, cache_dir, names, force))

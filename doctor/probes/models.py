"""Model weights: every copy found (config paths, plain folders, Hugging Face caches) and its state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from doctor.assets import assets
from doctor.probes._fs import at, seen
from doctor.probes.diffrhythm import expand
from doctor.probes.files import FileState, classify
from runner import locations


@dataclass(frozen=True)
class WeightFacts:
    id: str
    copies: tuple[FileState, ...]  # usable copies first
    incomplete: tuple[str, ...]  # interrupted downloads (`blobs/*.incomplete`) of this repo

    @property
    def best(self) -> FileState | None:
        return self.copies[0] if self.copies else None

    @property
    def ok(self) -> bool:
        return bool(self.copies) and self.copies[0].ok


@dataclass(frozen=True)
class ModelsFacts:
    hf_caches: tuple[str, ...]  # Hugging Face cache folders looked in
    plain_dirs: tuple[str, ...]  # plain model folders looked in
    weights: tuple[WeightFacts, ...]

    def weight(self, asset_id: str) -> WeightFacts:
        return next(w for w in self.weights if w.id == asset_id)


def hf_caches(checkout: str | None, models_dirs: list[str], env: Mapping[str, str]) -> list[str]:
    found = []
    if checkout:
        found.append(f"{checkout}/pretrained")  # upstream's cache_dir="./pretrained"
    found += models_dirs
    found.append(str(locations.hf_hub_cache(env)))
    return list(dict.fromkeys(found))


def _repo_names(weight: dict) -> list[str]:
    return [weight["repo"], *weight.get("aliases", ())]


def _cache_copies(root: Path, cache: Path, weight: dict) -> tuple[list[Path], list[Path]]:
    """(snapshot files, *.incomplete blobs) of this weight's repos in one HF cache folder."""
    files, incomplete = [], []
    for repo in _repo_names(weight):
        folder = cache / ("models--" + repo.replace("/", "--"))
        try:
            snapshots = sorted((folder / "snapshots").iterdir())
        except OSError:
            snapshots = []  # an interrupted first download leaves blobs/ but no snapshot yet
        for snapshot in snapshots:
            files += [snapshot / name for name in weight["files"] if (snapshot / name).is_symlink() or (snapshot / name).exists()]
        try:
            incomplete += sorted((folder / "blobs").glob("*.incomplete"))
        except OSError:
            pass
    return files, incomplete


def _plain_copies(folder: Path, weight: dict) -> list[Path]:
    paths = []
    for repo in _repo_names(weight):
        for name in weight["files"]:
            paths += [folder / repo.split("/")[-1] / name, folder / repo / name]
    paths += [folder / name for name in weight["plain_names"] if name in weight["files"]]
    return [p for p in paths if p.exists() or p.is_symlink()]


def _configured(root: Path, weight: dict, config_models: Mapping[str, str], env: Mapping[str, str]) -> list[Path]:
    value = config_models.get(weight.get("config_key", ""))
    if not isinstance(value, str):
        return []
    path = at(root, expand(value, env))
    if path.is_dir():
        return [path / name for name in weight["files"] if (path / name).exists()] or [path / weight["files"][0]]
    return [path]


def probe(
    root: Path, checkout: str | None, models_dirs: list[str], config_models: Mapping[str, str], env: Mapping[str, str]
) -> ModelsFacts:
    caches = hf_caches(checkout, models_dirs, env)
    plain = list(dict.fromkeys(models_dirs + ([f"{checkout}/pretrained"] if checkout else [])))
    weights = []
    for weight in assets()["weights"]:
        paths = _configured(root, weight, config_models, env)
        incomplete: list[Path] = []
        for cache in caches:
            files, partial = _cache_copies(root, at(root, cache), weight)
            paths += files
            incomplete += partial
        for folder in plain:
            paths += _plain_copies(at(root, folder), weight)
        states = [classify(root, p, weight["min_bytes"]) for p in dict.fromkeys(paths)]
        states.sort(key=lambda s: not s.ok)  # stable: usable copies first, search order kept
        weights.append(WeightFacts(weight["id"], tuple(states), tuple(seen(root, p) for p in incomplete)))
    return ModelsFacts(tuple(caches), tuple(plain), tuple(weights))

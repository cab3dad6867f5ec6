"""Model weights: every copy of every role of the family (through `runner.hf_cache`, the runner's resolver) and its state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from doctor.probes._fs import at, seen
from doctor.probes.files import FileState, classify
from runner import hf_cache
from runner.family import family

DIT_ROLES = ("cfm", "cfm_full")  # either DiT serves: base up to 95 s, full 96-285 s


@dataclass(frozen=True)
class CopyFacts:
    path: str  # what a loader is given (the folder for a whole repository, else the file), as the machine sees it
    source: str  # where it was found, in words
    files: tuple[FileState, ...]  # every file the role needs, in the family's order (missing ones say so)
    repo: str | None = None  # repository name it was cached under
    cache: str | None = None  # the Hugging Face cache folder holding it

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    @property
    def size(self) -> int | None:
        sizes = [f.size for f in self.files if f.size is not None]
        return sum(sizes) if sizes else None

    @property
    def broken(self) -> tuple[FileState, ...]:
        return tuple(f for f in self.files if not f.ok)


@dataclass(frozen=True)
class WeightFacts:
    id: str
    copies: tuple[CopyFacts, ...]  # usable copies first, search order kept
    incomplete: tuple[str, ...]  # interrupted downloads (`blobs/<blob>[.<8 hex>].incomplete`) of its repositories

    @property
    def best(self) -> CopyFacts | None:
        return self.copies[0] if self.copies else None

    @property
    def ok(self) -> bool:
        return bool(self.copies) and self.copies[0].ok


@dataclass(frozen=True)
class ModelsFacts:
    hf_caches: tuple[str, ...]  # Hugging Face cache folders looked in
    plain_dirs: tuple[str, ...]  # --models / [models] dir folders looked in (as caches and plain folders)
    weights: tuple[WeightFacts, ...]

    def weight(self, asset_id: str) -> WeightFacts:
        return next(w for w in self.weights if w.id == asset_id)

    @property
    def complete(self) -> bool:
        """A usable copy of every required role, one DiT (base or full) standing for both: what an offline run needs."""
        ok = {w.id: w.ok for w in self.weights}
        others = [r.id for r in family().weights if r.required and r.id not in DIT_ROLES]
        return any(ok.get(r) for r in DIT_ROLES) and all(ok.get(r) for r in others)


def _copy(root: Path, copy: hf_cache.Copy) -> CopyFacts:
    folder = copy.folder or Path("/nonexistent")
    files = tuple(classify(root, copy.files.get(f.name, folder / f.name), f) for f in copy.role.files)
    source = f"{copy.kind} {seen(root, copy.place)}" if copy.place is not None else copy.kind
    return CopyFacts(seen(root, copy.path), source, files, copy.repo, seen(root, copy.cache) if copy.cache else None)


def probe(
    root: Path, checkout: str | None, models_dirs: list[str], config_models: Mapping[str, object], env: Mapping[str, str]
) -> ModelsFacts:
    where = hf_cache.places(checkout, models_dirs, config_models, env, at=lambda p: at(root, p))
    weights = []
    for role in family().weights:
        found = hf_cache.find(role, where)
        copies = sorted((_copy(root, c) for c in found.copies), key=lambda c: not c.ok)  # stable
        weights.append(WeightFacts(role.id, tuple(copies), tuple(seen(root, p.path) for p in found.partials)))
    caches = tuple(seen(root, c) for c in where.all_caches)
    return ModelsFacts(caches, tuple(seen(root, d) for d in where.models_dirs), tuple(weights))

"""Which model files a run uses, without the network (torch-free: the doctor may use it).

The search itself is `runner.hf_cache` (the one resolver, driven by the family data); this module turns a
request's model settings into its search places and picks, per role, the first copy whose files are all
usable by their first bytes (`runner.weight_files`). Explicit paths (`ModelPaths` fields, or the config's
[models] keys named after the roles' `config_key`) come before `dir` (a `--models` folder), the checkout's
`pretrained/` and the Hugging Face hub cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from runner import hf_cache
from runner.errors import EnvironmentProblem
from runner.family import WeightRole, family, hf_download_command
from runner.weight_files import remedy

BASE_MAX_FRAMES = 2048  # = runner.components.BASE_MAX_FRAMES; not imported, so that this module stays torch-free


@dataclass(frozen=True)
class ModelPaths:
    cfm: Path | None = None  # base (95 s) checkpoint
    cfm_full: Path | None = None  # full (96-285 s) checkpoint
    vae: Path | None = None
    muq: Path | None = None  # MuQ-MuLan folder (config.json + weights)
    muq_audio: Path | None = None  # MuQ-large-msd-iter folder
    xlmr: Path | None = None  # xlm-roberta-base folder
    dir: Path | None = None  # a folder to search

    @classmethod
    def from_any(cls, value: ModelPaths | dict[str, Any] | str | Path | None) -> ModelPaths:
        if isinstance(value, ModelPaths):
            return value
        if value is None:
            return cls()
        if isinstance(value, (str, Path)):
            return cls(dir=Path(value).expanduser())
        known = {k: Path(v).expanduser() for k, v in value.items() if k in cls.__dataclass_fields__ and v}
        return cls(**known)

    def configured(self) -> dict[str, str]:
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class Resolved:
    cfm: Path | None  # None only when not asked for
    vae: Path | None
    muq: Path | None  # None: no usable MuQ-MuLan (only cached styles can be used)
    muq_revision: str | None  # snapshot revision when found in a Hugging Face cache
    style_cache: Path | None = None  # the Hugging Face cache holding MuQ-MuLan's audio and text models
    style_problem: str = ""  # why no style can be computed, with its remedy ("" when muq is usable)


def _where(root: Path | None, models: ModelPaths, env: Mapping[str, str] | None) -> hf_cache.Places:
    configured = models.configured()
    configured.pop("dir", None)
    return hf_cache.places(root, [models.dir] if models.dir else [], configured, env)


def _problem(role: WeightRole, found: hf_cache.Found, where: hf_cache.Places) -> EnvironmentProblem:
    if not found.copies:
        partial = f"; {len(found.partials)} interrupted download(s) in the cache" if found.partials else ""
        return EnvironmentProblem(
            f"no {role.label} ({', '.join(f.name for f in role.files)} of {role.repo}) found in "
            f"{', '.join(hf_cache.searched(where)) or 'any folder'}{partial}",
            remedy(role),
        )
    first = found.copies[0]
    bad = next(v for v in hf_cache.verdicts(first) if not v.ok)
    return EnvironmentProblem(f"{role.label}: {bad.path} is {bad.problem}", remedy(role, bad, first.cache))


def pick(role: WeightRole, where: hf_cache.Places) -> hf_cache.Copy:
    """The first usable copy of `role`, or an EnvironmentProblem naming what was found and what to do."""
    found = hf_cache.find(role, where)
    good = hf_cache.best(found)
    if good is None:
        raise _problem(role, found, where)
    return good


def resolve(
    root: Path | None, models: ModelPaths, max_frames: int, *, need_cfm: bool = True, need_vae: bool = True,
    env: Mapping[str, str] | None = None,
) -> Resolved:
    fam = family()
    where = _where(root, models, env)
    cfm = pick(fam.weight("cfm" if max_frames == BASE_MAX_FRAMES else "cfm_full"), where).path if need_cfm else None
    vae = pick(fam.weight("vae"), where).path if need_vae else None
    try:
        muq = pick(fam.weight("muq"), where)
        # MuQ-MuLan builds its audio and text models by repository id: they must be in one Hugging Face cache
        helpers = [pick(fam.weight(r), where) for r in ("muq_audio", "xlmr")]
    except EnvironmentProblem as exc:
        return Resolved(cfm, vae, None, None, None, f"{exc.message}; {exc.remedy}")
    caches = {h.cache for h in helpers}
    if None in caches or len(caches) != 1:
        shown = "; ".join(f"{h.role.repo} in {h.source}" for h in helpers)
        return Resolved(cfm, vae, None, None, None,
                        f"MuQ-MuLan loads its audio and text models from one Hugging Face cache by repository id, "
                        f"but they are in different places ({shown}); download both into one cache: "
                        + " and ".join(f"`{hf_download_command(h.role, muq.cache)}`" for h in helpers))
    return Resolved(cfm, vae, muq.path, muq.revision, caches.pop())

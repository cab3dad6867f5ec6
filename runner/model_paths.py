"""Where the model files of a DiffRhythm install are, without the network (torch-free: the doctor may use it).

Sources, first match wins, per file:
1. explicit paths (`ModelPaths` fields, or the dict keys `cfm`, `cfm_full`, `vae`, `muq` of the config's
   [models] table);
2. a models folder (`dir`): flat (`cfm_model.pt`, `cfm_model_full.pt` or `full/cfm_model.pt`,
   `vae_model.pt`, `MuQ-MuLan-large/`) or a Hugging Face cache (`models--ORG--NAME/snapshots/REV/FILE`);
3. the checkout's `pretrained/` folder, which upstream fills as a Hugging Face cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from runner.errors import EnvironmentProblem

BASE_REPOS = ("ASLP-lab/DiffRhythm-1_2", "ASLP-lab/DiffRhythm-base")
FULL_REPOS = ("ASLP-lab/DiffRhythm-1_2-full", "ASLP-lab/DiffRhythm-full")
VAE_REPOS = ("ASLP-lab/DiffRhythm-vae",)
MUQ_REPOS = ("OpenMuQ/MuQ-MuLan-large",)
MUQ_FLAT_NAMES = ("MuQ-MuLan-large", "muq", "MuQ")
BASE_MAX_FRAMES = 2048  # = runner.components.BASE_MAX_FRAMES; not imported, so that this module stays torch-free


@dataclass(frozen=True)
class ModelPaths:
    cfm: Path | None = None  # base (95 s) checkpoint
    cfm_full: Path | None = None  # full (96-285 s) checkpoint
    vae: Path | None = None
    muq: Path | None = None  # MuQ-MuLan folder (config.json + weights)
    dir: Path | None = None  # a folder to search

    @classmethod
    def from_any(cls, value: "ModelPaths | dict[str, Any] | str | Path | None") -> "ModelPaths":
        if isinstance(value, ModelPaths):
            return value
        if value is None:
            return cls()
        if isinstance(value, (str, Path)):
            return cls(dir=Path(value).expanduser())
        known = {k: Path(v).expanduser() for k, v in value.items() if k in cls.__dataclass_fields__ and v}
        return cls(**known)


@dataclass(frozen=True)
class Resolved:
    cfm: Path | None  # None only when not asked for
    vae: Path | None
    muq: Path | None  # None: no MuQ-MuLan found (only cached styles can be used)
    muq_revision: str | None  # snapshot revision when found in a Hugging Face cache


def _hf_cache_dir(base: Path, repo: str) -> Path:
    return base / ("models--" + repo.replace("/", "--"))


def hf_snapshot_file(base: Path, repo: str, filename: str | None) -> Path | None:
    """The file (or, with filename None, the snapshot folder) in a Hugging Face cache under `base`.

    The revision named by refs/main comes first, then the most recently changed snapshot.
    """
    repo_dir = _hf_cache_dir(base, repo)
    snapshots = repo_dir / "snapshots"
    if not snapshots.is_dir():
        return None
    order: list[Path] = []
    ref = repo_dir / "refs" / "main"
    if ref.is_file():
        try:
            order.append(snapshots / ref.read_text(encoding="utf-8").strip())
        except OSError:
            pass
    others = sorted((p for p in snapshots.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    order += [p for p in others if p not in order]
    for snap in order:
        target = snap if filename is None else snap / filename
        if filename is None and snap.is_dir() and any(snap.iterdir()):
            return snap
        # a snapshot link whose blob is missing or unfinished is still returned: the loader explains it
        if filename is not None and (target.exists() or target.is_symlink()):
            return target
    return None


def _search(bases: Iterable[Path], flat: tuple[str, ...], repos: tuple[str, ...], filename: str | None) -> Path | None:
    for base in bases:
        for name in flat:
            candidate = base / name
            if candidate.exists() or candidate.is_symlink():
                return candidate
        for repo in repos:
            found = hf_snapshot_file(base, repo, filename)
            if found is not None:
                return found
    return None


def resolve(
    root: Path | None, models: ModelPaths, max_frames: int, *, need_cfm: bool = True, need_vae: bool = True
) -> Resolved:
    bases = [b for b in (models.dir, root / "pretrained" if root else None) if b is not None and b.is_dir()]
    where = " or ".join(str(b) for b in ([models.dir] if models.dir else []) + ([root / "pretrained"] if root else []))
    base_model = max_frames == BASE_MAX_FRAMES
    if base_model:
        cfm = models.cfm or _search(bases, ("cfm_model.pt",), BASE_REPOS, "cfm_model.pt")
        repo = BASE_REPOS[0]
    else:
        cfm = models.cfm_full or _search(
            bases, ("cfm_model_full.pt", "full/cfm_model.pt"), FULL_REPOS, "cfm_model.pt"
        )
        repo = FULL_REPOS[0]
    if cfm is None and need_cfm:
        raise EnvironmentProblem(
            f"no {'base (95 s)' if base_model else 'full (96-285 s)'} DiffRhythm checkpoint found in {where or 'any folder'}",
            f"download it: `huggingface-cli download {repo} cfm_model.pt --cache-dir <checkout>/pretrained`, "
            "or give its path (--models DIR, or [models] in drdoctor's config)",
        )
    vae = models.vae or _search(bases, ("vae_model.pt",), VAE_REPOS, "vae_model.pt")
    if vae is None and need_vae:
        raise EnvironmentProblem(
            f"no DiffRhythm VAE (vae_model.pt) found in {where or 'any folder'}",
            f"download it: `huggingface-cli download {VAE_REPOS[0]} vae_model.pt --cache-dir <checkout>/pretrained`",
        )
    muq = models.muq or _search(bases, MUQ_FLAT_NAMES, MUQ_REPOS, None)
    revision = muq.name if muq is not None and muq.parent.name == "snapshots" else None
    return Resolved(cfm=Path(cfm) if cfm else None, vae=Path(vae) if vae else None, muq=Path(muq) if muq else None, muq_revision=revision)

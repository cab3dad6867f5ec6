"""Loading model files so that a wrong, partial or placeholder file is refused instead of half-used.

Upstream loads its checkpoint with `strict=False`, which accepts a git-lfs pointer's failure, a wrong
checkpoint or an empty dict without a word. Here every model file is judged by its first bytes before it
is read (`runner.weight_files`, the judgement the doctor uses too), and a checkpoint is refused unless its
tensors are exactly the network's: none left at initial values, none without a place.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from runner import hash_cache
from runner.errors import EnvironmentProblem
from runner.family import WeightFile, WeightRole, family
from runner.hf_cache import repo_of_folder
from runner.weight_files import judge, remedy

_SHA256_NAME = re.compile(r"^[0-9a-f]{64}$")
CHECKPOINT = WeightFile("checkpoint", None, None, 1, ("torch_zip", "torch_legacy", "safetensors"))
TORCHSCRIPT = WeightFile("TorchScript archive", None, None, 1, ("torchscript",))


def _role(weight: str | None) -> WeightRole | None:
    return family().weight(weight) if weight else None


def _cache_of(path: Path) -> Path | None:
    """The Hugging Face cache folder a file lies in (…/models--ORG--NAME/…), for the download remedy."""
    for parent in path.parents:
        if repo_of_folder(parent.name):
            return parent.parent
    return None


def _redownload(weight: str | None, path: Path) -> str:
    role = _role(weight)
    if role is None:
        return f"replace {path} with a good copy"
    return remedy(role, judge(path, CHECKPOINT), _cache_of(path))


class CheckpointMismatch(EnvironmentProblem):
    """A checkpoint whose tensors are not exactly the network's; `missing`/`unexpected` name them."""

    def __init__(self, message: str, remedy: str, missing: list[str], unexpected: list[str]):
        super().__init__(message, remedy)
        self.missing = missing
        self.unexpected = unexpected


@dataclass
class LoadReport:
    missing: list[str]  # network tensors the file did not provide (they keep their random values)
    unexpected: list[str]  # file tensors the network has no place for
    loaded: int  # network tensors filled from the file
    path: str = ""
    source: str = ""  # "model_state_dict", "ema_model_state_dict" or "state_dict"
    warnings: list[str] = field(default_factory=list)


def check_file(path: Path | str, role: str, expected: WeightFile = CHECKPOINT, weight: str | None = "cfm") -> Path:
    """Refuse what is not usable as `expected`, judged by its first bytes: missing, empty, a git-lfs pointer,
    an unfinished download, an HTML page, a file of another format (a pickle named .safetensors, a
    TorchScript archive where a state dict belongs). `weight` is the family role, for the remedy."""
    path = Path(path)
    verdict = judge(path, expected)
    if verdict.ok:
        return path
    kind = verdict.kind
    target = verdict.sniffed.blob
    if kind == "unfinished" and target is not None:
        message = f"{role} file {path} points at {target}, whose download never finished ({target.name}.*incomplete is there)"
    elif kind == "missing":
        message = f"{role} file {path} does not exist"
    elif kind == "dangling" and target is not None:
        message = f"{role} file {path} is a link to {target}, which does not exist"
    elif path.name.endswith(".incomplete"):
        message = f"{role} file {path} is an unfinished download (.incomplete)"
    elif kind == "lfs_pointer":
        message = (f"{role} file {path} is a git-lfs pointer ({verdict.sniffed.size} bytes of text), not the weights: "
                   "the repository was cloned without git-lfs")
    else:
        message = f"{role} file {path} is {verdict.problem}"
    role_data = _role(weight)
    fix = remedy(role_data, verdict, _cache_of(path)) if role_data else f"replace {path} with a good copy"
    if kind == "folder":
        fix = "point the models setting at the file itself"
    raise EnvironmentProblem(message, fix)


def _read(path: Path, role: str, weight: str | None) -> Any:
    try:
        if judge(path, CHECKPOINT).kind == "safetensors":  # by its bytes: a .pt may hold safetensors
            try:
                from safetensors.torch import load_file
            except ImportError as exc:
                raise EnvironmentProblem(
                    f"{role} file {path} is a safetensors file and the package safetensors is not installed",
                    "pip install safetensors",
                ) from exc
            return load_file(str(path), device="cpu")
        try:
            # mapped, not read: a 4 GB checkpoint then costs no second copy in memory while it is loaded
            return torch.load(path, weights_only=True, map_location="cpu", mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            return torch.load(path, weights_only=True, map_location="cpu")  # legacy (non-zip) format
    except EnvironmentProblem:
        raise
    except Exception as exc:  # zip/pickle/EOF errors of a cut or foreign file take many forms
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EnvironmentProblem(
            f"{role} file {path} ({path.stat().st_size} bytes) is truncated or not a checkpoint: {detail}",
            _redownload(weight, path),
        ) from exc


def _state_dict(raw: Any, path: Path, role: str, prefer_ema: bool, fix: str) -> tuple[dict[str, torch.Tensor], str]:
    if not isinstance(raw, dict):
        raise EnvironmentProblem(f"{role} file {path} holds a {type(raw).__name__}, not a checkpoint dict", fix)
    plain = raw.get("model_state_dict")
    ema = raw.get("ema_model_state_dict")
    if isinstance(ema, dict) and (prefer_ema or not isinstance(plain, dict)):
        state = {
            (k.removeprefix("ema_model.")): v
            for k, v in ema.items()
            if k not in ("initted", "step")
        }
        return state, "ema_model_state_dict"
    if isinstance(plain, dict):
        return dict(plain), "model_state_dict"
    tensors = {k: v for k, v in raw.items() if isinstance(v, torch.Tensor)}
    if tensors and len(tensors) == len(raw):
        return tensors, "state_dict"
    keys = ", ".join(sorted(map(str, raw))[:6])
    raise EnvironmentProblem(
        f"{role} file {path} has no model weights (no model_state_dict or ema_model_state_dict; keys: {keys})",
        fix,
    )


def load_state_dict_checked(
    module: torch.nn.Module, path: Path | str, *, prefer_ema: bool = False, role: str = "checkpoint",
    weight: str | None = "cfm",
) -> LoadReport:
    """Load `path` into `module`, refused unless the file's tensors are exactly the network's, shapes included:
    a tensor left at its initial value or one without a place means another network (another depth, the
    full model's checkpoint given as the base one) and would make noise. `weight`: the family role, for
    the remedy."""
    path = check_file(path, role, CHECKPOINT, weight)
    fix = _redownload(weight, path)
    state, source = _state_dict(_read(path, role, weight), path, role, prefer_ema, fix)
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and isinstance(state[k], torch.Tensor) and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    matched = len(own) - len(missing) - len(mismatched)
    counts = (f"the network has {len(own)} tensors, the file {len(state)}: {matched} match, {len(mismatched)} have "
              f"other shapes, {len(missing)} are missing from the file, {len(unexpected)} have no place in the network")
    hint = ("use the checkpoint that matches the song length (DiffRhythm-1_2 for 95 s, DiffRhythm-1_2-full for "
            "96-285 s) and the checkout's config/diffrhythm-1b.json; " + fix)
    if mismatched:
        raise EnvironmentProblem(
            f"{role} file {path} is for a different network: {counts} (first other shape: {mismatched[0]})", hint)
    if missing or unexpected:
        examples = "; ".join(part for part in (
            f"missing e.g. {', '.join(missing[:3])}" if missing else "",
            f"without a place e.g. {', '.join(unexpected[:3])}" if unexpected else "") if part)
        raise CheckpointMismatch(
            f"{role} file {path} does not fit this network: {counts} ({examples}). Loading it would leave part of "
            "the network at its initial values and make noise", hint, missing, unexpected)
    module.load_state_dict(state, strict=True)
    return LoadReport(missing=[], unexpected=[], loaded=matched, path=str(path), source=source)


# --- fingerprints -----------------------------------------------------------------------------------


def fingerprint(path: Path | str, role: str, weight: str | None = None) -> dict[str, Any]:
    """{"role", "path", "bytes", "sha256"}; the hash comes from the one hash cache (`runner.hash_cache`).

    A Hugging Face cache blob is named by its SHA-256: a file that does not hash to its own name was cut
    short, written over or swapped, and is refused.
    """
    given = Path(path)
    real = Path(os.path.realpath(given))
    try:
        size = real.stat().st_size
        digest = hash_cache.sha256(real)
    except OSError as exc:
        raise EnvironmentProblem(f"{role} file {given} cannot be read ({exc.strerror})", _redownload(weight, given)) from exc
    if real.parent.name == "blobs" and _SHA256_NAME.match(real.name) and real.name != digest:
        raise EnvironmentProblem(
            f"{role} file {given} is damaged: its Hugging Face cache blob {real} should hash to its own name, "
            f"but its SHA-256 is {digest}",
            f"delete {real} and the link to it, then " + _redownload(weight, given),
        )
    return {"role": role, "path": str(given), "bytes": size, "sha256": digest}

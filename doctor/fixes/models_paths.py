"""`models.paths`: record where the weights really are, and say how to fetch the broken ones again.

Upstream only looks in the checkout's `./pretrained` Hugging Face cache. When a complete copy lies
elsewhere (`~/.cache/huggingface/hub`, a folder given with `--models`, another cache), its resolved
path goes into drdoctor's config (`[models] cfm/cfm_full/vae/muq`, `dir` for a `--models` folder), which
`drdoctor generate` reads. Broken spares of a weight that has a good copy (a git-lfs pointer in
`./pretrained` that upstream's scripts would load) are moved aside to their backup name. Broken copies (an
interrupted `.incomplete` download, a git-lfs pointer, an empty, cut or foreign file) are listed with the
`hf download REPO FILES...` command that fetches every file of the role again; when the machine is online
(`--online`) and huggingface_hub is in the target environment, the plan runs it.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from doctor import config as config_mod
from doctor.fixes.context import FixContext
from doctor.fixes.plan import CommandStep, MoveAside, Plan, edit
from doctor.probes.models import CopyFacts
from runner.family import WeightRole, family, hf_download_argv

FIX_ID = "models.paths"
TITLE = "record where the weights are in drdoctor's config; list what must be downloaded again"
# Run in the target interpreter; the arguments come as argv, never spliced into the code.
_DOWNLOAD = (
    "import sys; from huggingface_hub import hf_hub_download; "
    "repo, kind, folder, force, *names = sys.argv[1:]; "
    "kw = {'cache_dir': folder} if kind == 'cache' else {'local_dir': folder}; "
    "[print(hf_hub_download(repo_id=repo, filename=n, force_download=force == '1', **kw)) for n in names]"
)


def _cache_and_repo(path: str) -> tuple[str, str] | None:
    """(cache folder, ORG/NAME) for a file inside a Hugging Face cache (…/models--ORG--NAME/…)."""
    parts = PurePosixPath(path).parts
    for index, part in enumerate(parts):
        if part.startswith("models--"):
            return str(PurePosixPath(*parts[:index])), part[len("models--"):].replace("--", "/", 1)
    return None


def _expand(value: str, ctx: FixContext) -> str:
    home = os.environ.get("HOME", "/root")
    return os.path.normpath(home + value[1:] if value.startswith("~") else value)


def redownload(role: WeightRole, path: str, force: bool) -> tuple[list[str], tuple[str, str]]:
    """(the `hf download` argv a user can type, (kind, folder) for the in-process download) for every file of
    the role, into the cache or plain folder that `path` lies in."""
    cached = _cache_and_repo(path)
    if cached:
        return hf_download_argv(role, cached[0], force=force), ("cache", cached[0])
    folder = str(PurePosixPath(path).parent)
    argv = hf_download_argv(role, force=force)
    return [*argv[:3 + len(role.files)], "--local-dir", folder, *argv[3 + len(role.files):]], ("local", folder)


def _file_of(copy: CopyFacts) -> str:
    """A path inside the copy's folder (where its files go back)."""
    return copy.broken[0].path if copy.broken else copy.path


def plan(ctx: FixContext) -> Plan:
    facts = ctx.models
    if facts is None:
        return Plan(FIX_ID, TITLE, blocked="the model search did not run")
    if ctx.config_path is None:
        return Plan(FIX_ID, TITLE, blocked="no config file location")
    try:
        current = config_mod.load(ctx.config_path)
    except config_mod.ConfigError as exc:
        return Plan(FIX_ID, TITLE, blocked=str(exc))
    configured = current.get("models", {}) if isinstance(current.get("models"), dict) else {}
    updates: dict[str, str] = {}
    notes: list[str] = []
    steps: list[CommandStep] = []
    seen_fetches: set[tuple[str, str]] = set()
    can_download = ctx.online and bool(ctx.python) and bool(
        ctx.packages.get("huggingface-hub") or ctx.packages.get("transformers")  # transformers requires it
    )
    fam = family()
    ok = {w.id: w.ok for w in facts.weights}
    unresolved: list[str] = []
    moves: list[MoveAside] = []
    for weight in facts.weights:
        role = fam.weight(weight.id)
        best = weight.best
        if best is not None and best.ok:
            have = configured.get(role.config_key)
            if not (isinstance(have, str) and _expand(have, ctx) == best.path):
                updates[role.config_key] = best.path
        broken = [c for c in weight.copies if not c.ok]
        if best is not None and best.ok:
            # A good copy is used; broken spares are moved aside (upstream's scripts may still pick one).
            for spare in broken:
                for f in spare.broken:
                    if f.state != "missing":
                        moves.append(MoveAside(ctx.at(f.path), f"move aside {f.path}: {f.problem} "
                                               f"(upstream's scripts would load it; drdoctor uses {best.path})"))
            for partial in weight.incomplete:
                notes.append(f"{weight.id}: {partial} is an interrupted download (drdoctor uses {best.path}); it can be deleted")
            continue
        # (what is wrong, a path inside the copy's folder, force the download over a file that is there)
        fetches = [("; ".join(f"{f.path} is {f.problem}" for f in c.broken), _file_of(c), True) for c in broken]
        fetches += [(f"{p} is an interrupted download", p, False) for p in weight.incomplete]
        if not fetches:
            if optional(weight.id, ok) or weight.id == "cfm_full":
                continue  # the full DiT is only for songs over 95 s; the base one is what to fetch first
            # Missing everywhere: fetch it where upstream looks (the checkout's ./pretrained cache).
            home = f"{ctx_checkout(ctx)}/pretrained" if ctx_checkout(ctx) else (facts.hf_caches[-1] if facts.hf_caches else None)
            if home is None:
                continue
            fetches = [(f"no copy found (looked in {', '.join(dict.fromkeys(facts.plain_dirs + facts.hf_caches))})",
                        f"{home}/models--{role.repo.replace('/', '--')}/x", False)]
        if not optional(weight.id, ok):
            unresolved.append(weight.id)
        for what, path, force in fetches:
            user_argv, (kind, folder) = redownload(role, path, force)
            verb = "download it with" if what.startswith("no copy") else "fetch it again with"
            notes.append(f"{weight.id}: {what}; {verb}: {' '.join(user_argv)}")
            if can_download and (role.repo, folder) not in seen_fetches:
                seen_fetches.add((role.repo, folder))
                steps.append(CommandStep(
                    (ctx.python, "-c", _DOWNLOAD, role.repo, kind, str(ctx.at(folder)), "1" if force else "0",
                     *(f.name for f in role.files)),
                    f"download {role.repo} ({', '.join(f.name for f in role.files)}) again into {folder}",
                ))
        if fetches and not can_download:
            notes.append(
                f"{weight.id}: the download is not run here ("
                + ("pass --online when this machine can reach huggingface.co" if not ctx.online
                   else "huggingface_hub is not in the target environment") + ")"
            )
    if ctx.models_dirs:
        wanted_dir = str(ctx.models_dirs[0])
        if configured.get("dir") != wanted_dir:
            updates["dir"] = wanted_dir
    file_steps = []
    if updates:
        new_text = config_mod.updated_text(ctx.config_path, {"models": updates})
        step = edit(ctx.config_path, new_text, f"record {', '.join(sorted(updates))} in [models] of {ctx.config_path}")
        if step:
            file_steps.append(step)
    all_steps = tuple(file_steps) + tuple(moves) + tuple(steps)
    blocked = None
    if not all_steps and unresolved:
        blocked = (f"no usable copy of {', '.join(unresolved)}: fetch them with the commands below, "
                   "or pass --models DIR where complete copies are")
    return Plan(
        FIX_ID,
        TITLE,
        steps=all_steps,
        notes=tuple(notes),
        blocked=blocked,
        done_reason="every complete copy found is already recorded" + ("; nothing broken to fetch" if not notes else ""),
    )


def optional(weight_id: str, ok: dict[str, bool]) -> bool:
    """The two DiT variants stand in for each other (base: up to 95 s, full: 96-285 s)."""
    return (weight_id == "cfm_full" and ok.get("cfm", False)) or (weight_id == "cfm" and ok.get("cfm_full", False))


def ctx_checkout(ctx: FixContext) -> str | None:
    """The checkout as the machine sees it (ctx.diffrhythm lies under ctx.root)."""
    if ctx.diffrhythm is None:
        return None
    try:
        return "/" + ctx.diffrhythm.relative_to(ctx.root).as_posix()
    except ValueError:
        return str(ctx.diffrhythm)

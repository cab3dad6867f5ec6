"""One discovery of the DiffRhythm install: the checkout, the environment's interpreter, the model folders.

`drdoctor check`, `drdoctor generate` and the TUI all ask this module, so what the checkup finds is what a
run uses. Order, first found wins: the flags, drdoctor's config (`[diffrhythm] root/python`, `[models]`),
environment variables (`DIFFRHYTHM_ROOT`; the Hugging Face cache variables are the resolver's), the folder
`drdoctor install` fills (`runner.family.install_layout`), then the usual places (`~/DiffRhythm`, ...) and
the current directory. Torch-free.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doctor import config as config_mod
from doctor.probes._fs import at, exists
from runner import locations
from runner.family import DEFAULT_FAMILY, family, install_layout


@dataclass(frozen=True)
class Target:
    checkout: str | None  # as the machine sees it; None when none was found
    checkout_source: str | None  # how it was found: "--diffrhythm", "config [diffrhythm] root", ...
    tried: tuple[str, ...]  # places looked at that hold no checkout
    python: str  # the interpreter to run the runner with
    python_source: str
    models_dirs: tuple[str, ...]  # --models, else [models] dir
    models: Mapping[str, str]  # the config's [models] per-role paths (config_key -> path); none with --models


def _expand(path: str, env: Mapping[str, str]) -> str:
    return str(locations.expand(path, env))


def checkout_candidates(explicit: str | None, configured: str | None, env: Mapping[str, str],
                        family_id: str = DEFAULT_FAMILY) -> list[tuple[str, str]]:
    """(path, how it was named) in the order they are tried; an explicit folder is the only one."""
    if explicit:
        return [(_expand(explicit, env), "--diffrhythm")]
    found = []
    if configured:
        found.append((_expand(configured, env), "config [diffrhythm] root"))
    if env.get("DIFFRHYTHM_ROOT"):
        found.append((_expand(env["DIFFRHYTHM_ROOT"], env), "DIFFRHYTHM_ROOT"))
    found.append((str(install_layout(family_id, env).checkout), "drdoctor install"))
    found += [(_expand(place, env), "usual place") for place in family(family_id).checkout_places]
    found.append((os.getcwd(), "current directory"))
    return list(dict.fromkeys(found))


def is_checkout(folder: Path, family_id: str = DEFAULT_FAMILY) -> bool:
    return any(exists(folder / marker) for marker in family(family_id).checkout_markers)


def find_checkout(root: Path, explicit: str | None, configured: str | None, env: Mapping[str, str],
                  family_id: str = DEFAULT_FAMILY) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(the checkout, how it was named, the places tried before it)."""
    tried = []
    for path, source in checkout_candidates(explicit, configured, env, family_id):
        if is_checkout(at(root, path), family_id):
            return path, source, tuple(tried)
        tried.append(path if source == "usual place" else f"{path} ({source})")
    return None, None, tuple(tried)


def find_python(root: Path, explicit: str | None, configured: str | None, env: Mapping[str, str],
                family_id: str = DEFAULT_FAMILY) -> tuple[str, str]:
    """(the interpreter, how it was named): --python, [diffrhythm] python, the installed environment's, else
    the interpreter running drdoctor."""
    if explicit:
        return explicit, "--python"
    if configured:
        return _expand(str(configured), env), "config [diffrhythm] python"
    installed = install_layout(family_id, env).python
    if exists(at(root, installed)):
        return str(installed), "drdoctor install"
    return sys.executable, "drdoctor's own interpreter"


def discover(root: Path = Path("/"), *, diffrhythm: str | None = None, python: str | None = None,
             models: str | None = None, config: Mapping[str, Any] | None = None,
             env: Mapping[str, str] | None = None, family_id: str = DEFAULT_FAMILY) -> Target:
    env = dict(os.environ if env is None else env)
    config = config_mod.load() if config is None else config
    checkout, source, tried = find_checkout(root, diffrhythm, config_mod.get(config, "diffrhythm", "root"), env, family_id)
    interpreter, python_source = find_python(root, python, config_mod.get(config, "diffrhythm", "python"), env, family_id)
    table = config.get("models") if isinstance(config.get("models"), dict) else {}
    if models:  # a models folder given on the command line replaces the config's whole [models] table
        table = {"dir": models}
    dirs = [_expand(table["dir"], env)] if isinstance(table.get("dir"), str) and table["dir"] else []
    per_role = {k: v for k, v in table.items() if k != "dir" and isinstance(v, str) and v}
    return Target(checkout, source, tried, interpreter, python_source, tuple(dirs), per_role)

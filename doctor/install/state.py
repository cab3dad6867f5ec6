"""What of a family's install is in place now (no network): the one judgement the config step and the
closing summary use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from doctor.install import checkout as checkout_mod
from doctor.install import environment as env_mod
from doctor.install.hub_fetch import present
from doctor.install.weights import wanted_files
from runner.family import install_layout


@dataclass(frozen=True)
class InstalledState:
    checkout: bool      # the checkout is there (ours at the pinned commit, or the adopted one)
    environment: bool   # `env` points at a folder that passed the import check
    weights: bool       # every required weight file is complete in the cache


def installed_state(opts, checkout: Path | None, cache: Path) -> InstalledState:
    family = opts.family
    if checkout is None:
        has_checkout = False
    elif opts.diffrhythm is not None:
        has_checkout = all((checkout / m).is_file() for m in family.checkout_markers)
    else:
        has_checkout = checkout_mod.state(checkout).at(family.upstream_commit)
    venv = install_layout(family.id, opts.env).venv
    target, marker = env_mod.current(venv)
    has_env = bool(target is not None and marker and (target / "bin" / "python").exists())
    weights = all(present(cache, w, False) is not None for w in wanted_files(family, opts.optional))
    return InstalledState(has_checkout, has_env, weights)

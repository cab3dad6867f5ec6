"""What the checks need to know about a DiffRhythm install: the model family's data plus `data/assets.json`.

The family file (`data/families/<id>.json`, read by `runner.family`) owns the weights, the checkout's
files and the system needs; `assets.json` holds only what is not family data (memory and disk estimates,
library folders). `assets()` is both merged in the shape the checks read, derived, never copied.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from runner.family import WeightRole, family

ASSETS_PATH = Path(__file__).parent / "data" / "assets.json"


def _weight_view(role: WeightRole) -> dict:
    return {
        "id": role.id, "label": role.label, "repo": role.repo, "aliases": list(role.aliases),
        "files": [f.name for f in role.files], "config_key": role.config_key, "required": role.required,
        "min_bytes": sum(f.min_bytes for f in role.files), "plain_names": list(role.plain_names),
    }


@lru_cache(maxsize=1)
def assets() -> dict:
    merged = json.loads(ASSETS_PATH.read_text(encoding="utf-8"))
    fam = family()
    merged.update(
        family=fam.id,
        weights=[_weight_view(role) for role in fam.weights],
        checkout_files=[{"path": f.path, "min_bytes": f.min_bytes, "why": f.why} for f in fam.checkout_files],
        checkout_markers=list(fam.checkout_markers),
        usual_checkout_places=list(fam.checkout_places),
        espeak_voices=list(fam.espeak_voices),
        espeak_voices_why=fam.espeak_why,
    )
    return merged


def weight(asset_id: str) -> dict:
    return next(w for w in assets()["weights"] if w["id"] == asset_id)


def role(asset_id: str) -> WeightRole:
    return family().weight(asset_id)

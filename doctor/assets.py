"""The DiffRhythm asset list (`data/assets.json`): weights, checkout files, their size bounds."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

ASSETS_PATH = Path(__file__).parent / "data" / "assets.json"


@lru_cache(maxsize=1)
def assets() -> dict:
    return json.loads(ASSETS_PATH.read_text(encoding="utf-8"))


def weight(asset_id: str) -> dict:
    return next(w for w in assets()["weights"] if w["id"] == asset_id)

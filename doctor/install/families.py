"""FAMILY on the command line: an id from doctor/data/families/, or the path of a family file."""

from __future__ import annotations

from pathlib import Path

from runner import family as family_mod


def resolve_family(name: str | None):
    """The runner.family.Family for an id or a path; FamilyError names what is wrong."""
    if not name:
        return family_mod.family()
    candidate = Path(name).expanduser()
    if name.endswith(".json") or candidate.is_file():
        return family_mod.load(candidate.resolve())
    if name not in family_mod.family_ids():
        known = ", ".join(family_mod.family_ids()) or "none"
        raise family_mod.FamilyError(f"no model family {name!r} (known: {known}; or give the path of a family file)")
    return family_mod.family(name)

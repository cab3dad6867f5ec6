"""The check registry: stable id -> the areas of facts it reads and the pure function that judges them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from doctor.facts import Facts
from doctor.findings import Finding

CheckFunction = Callable[[Facts], Finding]


@dataclass(frozen=True)
class Check:
    id: str
    needs: tuple[str, ...]  # Facts fields that must be filled before it can run
    run: CheckFunction


CHECKS: dict[str, Check] = {}


def check(check_id: str, *needs: str) -> Callable[[CheckFunction], CheckFunction]:
    def register(function: CheckFunction) -> CheckFunction:
        if check_id in CHECKS:
            raise ValueError(f"check id {check_id!r} registered twice")
        CHECKS[check_id] = Check(check_id, needs, function)
        return function

    return register

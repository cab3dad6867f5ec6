"""Can this machine reach what the install needs? The Hub, the source host, the package indexes: asked
concurrently with short timeouts, so an offline machine learns it in seconds, each by name."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from doctor.install import checkout as checkout_mod
from doctor.install.lock import reachable as index_reachable

DEFAULT_HUB = "https://huggingface.co"


def hub_endpoint(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return (env.get("HF_ENDPOINT") or DEFAULT_HUB).rstrip("/")


@dataclass(frozen=True)
class Reach:
    """None: reachable (or not asked); otherwise the sentence saying what cannot be reached and why."""

    hub: str | None = None
    source: str | None = None
    index: str | None = None


def _hub_problem(hub: str, timeout: float) -> str | None:
    why = index_reachable(hub, timeout)
    if why is None:
        return None
    return f"the Hugging Face Hub{'' if hub == DEFAULT_HUB else ' (HF_ENDPOINT)'} cannot be reached: {why}"


def probe(*, hub: str | None, source: str | None, indexes: list[str], timeout: float = 8.0) -> Reach:
    """Ask each that is named (None: not needed here) at once."""
    jobs: dict[str, Callable[[], str | None]] = {}
    if hub:
        jobs["hub"] = lambda: _hub_problem(hub, timeout)
    if source:
        jobs["source"] = lambda: checkout_mod.reachable(source, timeout=timeout * 2)
    if indexes:
        def indexes_problem() -> str | None:
            problems = [why for why in (index_reachable(url, timeout) for url in indexes) if why]
            return "a package index cannot be reached: " + "; ".join(problems) if problems else None
        jobs["index"] = indexes_problem
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return Reach(**{name: future.result() for name, future in futures.items()})

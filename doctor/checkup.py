"""The checkup: run the probes concurrently, judge each area's facts as soon as they are in.

    report = run_checkup(CheckupOptions())                   # everything, then render
    for step in checkup_steps(CheckupOptions()): ...         # findings as each probe finishes (TUI)
    run_checkup(options, on_step=callback)                   # the same, with a callback

After a fix, `drdoctor fix` and the TUI gather the facts again with a new checkup (doctor/fixes/session.py).
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from doctor import config as config_file
from doctor import discovery
from doctor.checks import CHECKS, Check
from doctor.facts import Facts
from doctor.findings import Finding, Status
from doctor.probes import (
    diffrhythm,
    docker,
    gpu,
    hub,
    integrity,
    memory,
    models,
    nvml,
    platform,
    python_env,
    tools,
)
from doctor.probes._fs import SYSTEM_ROOT
from doctor.report import Report


@dataclass(frozen=True)
class CheckupOptions:
    root: Path = SYSTEM_ROOT
    python: str | None = None  # target interpreter; None: [diffrhythm] python from the config, else this one
    diffrhythm: str | None = None
    models: str | None = None
    deep: bool = False
    env: Mapping[str, str] | None = None  # None: os.environ
    config: dict[str, Any] | None = None  # None: drdoctor's config file
    nvml: nvml.NvmlSource | None = None  # None: the real NVML for root /, none for another root


@dataclass(frozen=True)
class Step:
    """One finished probe: the areas it filled and the findings that became possible."""

    areas: tuple[str, ...]
    findings: tuple[Finding, ...]


def _no_nvml() -> dict[str, Any]:
    return {"status": "no_library", "error": "NVML describes this machine, not the probed root; no snapshot given"}


def _tasks(options: CheckupOptions) -> dict[str, Callable[[], dict[str, Any]]]:
    """Probe jobs: each returns {area: facts}. The install job is sequential: models need the checkout."""
    root = options.root
    env = dict(os.environ if options.env is None else options.env)
    config = config_file.load() if options.config is None else options.config
    nvml_source = options.nvml or (nvml.live if root == SYSTEM_ROOT else _no_nvml)
    target = discovery.discover(root, python=options.python, models=options.models, config=config, env=env)
    python, models_dirs, config_models = target.python, list(target.models_dirs), dict(target.models)

    def install() -> dict[str, Any]:
        checkout = diffrhythm.probe(root, options.diffrhythm, config_file.get(config, "diffrhythm", "root"), env)
        found = models.probe(root, checkout.path, models_dirs, config_models, env)
        blobs = integrity.probe(root, found, env) if options.deep else None
        return {"checkout": checkout, "models": found, "integrity": blobs}

    return {
        "python": lambda: {"python": python_env.probe(python, deep=options.deep)},
        "docker": lambda: {"docker": docker.probe(root, env)},
        "espeak": lambda: {"espeak": tools.probe_espeak(root, env)},
        "gpu": lambda: {"gpu": gpu.probe(root, nvml_source)},
        "install": install,
        "platform": lambda: {"platform": platform.probe(root, env)},
        "memory": lambda: {"memory": memory.probe(root)},
        "hub": lambda: {"hub": hub.probe(env, config_file.get(config, "run", "hf_hub_offline"))},
    }


def _skip(check: Check, facts: Facts) -> Finding | None:
    broken = [area for area in check.needs if area in facts.errors]
    if not broken:
        return None
    area = broken[0]
    return Finding(check.id, Status.SKIP, f"the {area} probe failed", facts.errors[area])


def _judge(check: Check, facts: Facts) -> Finding:
    if skipped := _skip(check, facts):
        return skipped
    try:
        return check.run(facts)
    except Exception as exc:  # a bug in one check must not hide every other finding
        return Finding(check.id, Status.SKIP, f"the check crashed: {type(exc).__name__}: {exc}",
                       "".join(traceback.format_exception(exc)[-3:]))


def checkup_steps(options: CheckupOptions, facts: Facts | None = None) -> Iterator[Step]:
    """Run every probe concurrently; after each one, yield the findings whose facts are now complete."""
    facts = facts if facts is not None else Facts()
    area_names = {f.name for f in fields(Facts)} - {"errors"}
    done: set[str] = set()
    pending = dict(CHECKS)
    tasks = _tasks(options)
    with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="probe") as pool:
        futures = {pool.submit(job): name for name, job in tasks.items()}
        for future in as_completed(futures):
            name = futures[future]
            try:
                filled = future.result()
            except Exception as exc:  # a probe is written never to raise; if one does, say which
                filled = {}
                areas = {"install": ("checkout", "models", "integrity")}.get(name, (name,))
                for area in areas:
                    facts.errors[area] = f"{type(exc).__name__}: {exc}"
                    done.add(area)
            for area, value in filled.items():
                setattr(facts, area, value)
                done.add(area)
            ready = [c for c in pending.values() if set(c.needs) <= done]
            for check in ready:
                del pending[check.id]
            yield Step(tuple(filled) or (name,), tuple(_judge(c, facts) for c in ready))
    assert done >= area_names, f"areas never filled: {area_names - done}"


def run_checkup(options: CheckupOptions | None = None, on_step: Callable[[Step], None] | None = None) -> Report:
    started = time.perf_counter()
    report = Report(Facts())
    by_id: dict[str, Finding] = {}
    for step in checkup_steps(options or CheckupOptions(), report.facts):
        by_id.update((f.id, f) for f in step.findings)
        if on_step:
            on_step(step)
    report.findings = [by_id[check_id] for check_id in CHECKS if check_id in by_id]
    report.seconds = time.perf_counter() - started
    return report

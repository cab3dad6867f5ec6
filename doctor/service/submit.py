"""A job request: the options of `drdoctor generate`, checked by the runner's own `Request` before anything
is queued, with the result cache and the queueing lock deciding whether it runs at all."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doctor.commands.generate import runner_args
from doctor.service import cache, store
from runner import request_files
from runner.errors import BadInput
from runner.request import Request, parse, path_options

OWNED_BY_SERVICE = ("--out", "--run-dir", "--resume")  # each job writes into its own folder
PATH_OPTIONS = tuple(option for option in path_options() if option not in OWNED_BY_SERVICE)
DEFAULT_ATTEMPTS = 3


@dataclass(frozen=True)
class Submitted:
    job_id: int
    seed: int
    cached: bool  # answered by an equal finished job: no generation
    existing: bool = False  # an equal job was already queued: its id


def absolute_argv(argv: list[str], cwd: Path | None = None) -> list[str]:
    """File options made absolute: a worker runs in another folder (and maybe on another host)."""
    base = cwd or Path.cwd()

    def absolute(value: str) -> str:
        return str(base / Path(value).expanduser()) if value else value

    out: list[str] = []
    pending: str | None = None
    for token in argv:
        if pending is not None:
            out.append(absolute(token) if pending != "--model-file" else _model_file(token, absolute))
            pending = None
            continue
        name, sep, value = token.partition("=")
        if name in PATH_OPTIONS + ("--model-file",):
            if sep:
                out.append(f"{name}={absolute(value) if name != '--model-file' else _model_file(value, absolute)}")
            else:
                out.append(token)
                pending = name
            continue
        out.append(token)
    return out


def _model_file(item: str, absolute: Any) -> str:
    role, sep, path = item.partition("=")
    return f"{role}={absolute(path)}" if sep else item


def _given(argv: list[str], option: str) -> bool:
    return any(a == option or a.startswith(option + "=") for a in argv)


def _without_seed(argv: list[str]) -> list[str]:
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token == "--seed":
            skip = True
        elif not token.startswith("--seed="):
            out.append(token)
    return out


def requests(argv: list[str], count: int = 1, cwd: Path | None = None,
             config: dict[str, Any] | None = None) -> list[tuple[list[str], Request]]:
    """(runner argv, Request) for each job: seeds s, s+1, ... Raises BadInput (or EnvironmentProblem: no model
    folder) with the runner's message.

    The request is checked as a worker would run it (generate's builder fills the checkout and models from
    the config); the argv kept for the job is the user's, so each worker fills in its own host's folders."""
    for option in OWNED_BY_SERVICE:
        if _given(argv, option):
            raise BadInput(f"{option} is not taken by a job: each job writes into its own folder",
                           "leave it out; `drdoctor queue show ID` names the job's song")
    if count < 1:
        raise BadInput(f"--count {count}: must be at least 1", "e.g. --count 4 for seeds s .. s+3")
    argv = absolute_argv(argv, cwd)
    first, _given_names = parse(runner_args(argv, config or {}))  # the runner's own checks; a missing --seed is drawn once
    request_files.check(first)  # the files as the runner's preflight judges them
    for name in ("style_embedding", "models", "style_from"):  # the rest a worker reads, and the cache key hashes
        value = getattr(first, name)
        if value and not os.path.exists(value):
            raise BadInput(f"{value} does not exist (--{name.replace('_', '-')})",
                           "give a file the workers can read, or upload it to `drdoctor serve`")
    base = _without_seed(argv)
    jobs = []
    for k in range(count):
        seed = first.seed + k
        job_argv = base + ["--seed", str(seed)]
        jobs.append((job_argv, dataclasses.replace(first, seed=seed)))
    return jobs


def submit(database_url: str, argv: list[str], count: int = 1, *, attempts: int = DEFAULT_ATTEMPTS,
           cwd: Path | None = None, use_cache: bool = True, config: dict[str, Any] | None = None) -> list[Submitted]:
    """Queue the jobs (or answer them from the cache). Raises BadInput before anything is queued."""
    prepared = []
    for job_argv, request in requests(argv, count, cwd, config):
        try:
            key = cache.cache_key(request)
        except OSError as exc:
            raise BadInput(f"cannot read {exc.filename}: {exc.strerror}", "give files the workers can read") from exc
        prepared.append((job_argv, request, key))
    results = []
    for job_argv, request, key in prepared:
        hit = store.cached_job(database_url, key) if use_cache else None
        if hit is not None:
            results.append(Submitted(hit, request.seed, cached=True))
            continue
        args = {"argv": job_argv, "request": request.to_json(), "cache_key": key, "max_attempts": attempts}
        job_id, existing = store.defer(database_url, args, key)
        results.append(Submitted(job_id, request.seed, cached=False, existing=existing))
    return results

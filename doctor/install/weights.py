"""The weights step: `python -m doctor.install.weights FAMILY --cache DIR [--verify] [--events FILE]`.

Every file of every required weight role into the Hugging Face cache at DIR, in three passes:
1. what is already complete there (no network; `--verify` hashes every blob instead of trusting its name);
2. one HEAD per missing file (ETag, commit, size): the Hub unreachable stops here, before any byte is written;
3. the free space against what is still to come (partials count as done), then the downloads, each verified.
Exit status: 0 everything in place, 3 the Hub cannot be reached, too little space, or bytes that do not match.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import TextIO

from doctor.install.hub_fetch import (
    FetchError,
    Wanted,
    fetch,
    partial_bytes,
    present,
    remote,
)
from doctor.install.progress import Events
from doctor.units import gib

EXIT_OK, EXIT_ENVIRONMENT, EXIT_USAGE = 0, 3, 2
OFFLINE_ROUTES = (
    "offline routes: copy a Hugging Face cache that holds these files from a connected machine "
    "(`hf download REPO FILES...` there) and pass `drdoctor install --models DIR`, "
    "or use the container (`drdoctor container pull`, then `drdoctor container run generate ...`)"
)


def wanted_files(family, optional: bool = False) -> list[Wanted]:
    """Every file the family's roles need (the required roles, plus the optional ones when asked)."""
    return [
        Wanted(role, f)
        for role in family.weights if role.required or optional
        for f in role.files
    ]


def download_commands(family, todo: list[Wanted]) -> list[str]:
    """`hf download REPO FILES...` for every role with missing files, listing each of its files (the one remedy)."""
    from runner.family import hf_download_command

    repos = {w.repo for w in todo}
    return [hf_download_command(role) for role in family.weights if role.repo in repos]


def install_weights(family, cache: Path, events: Events, out: TextIO, *, verify: bool = False,
                    optional: bool = False) -> int:
    wanted = wanted_files(family, optional)
    todo = [w for w in wanted if present(cache, w, verify) is None]
    done = len(wanted) - len(todo)
    out.write(f"  {done} of {len(wanted)} weight files already complete in {cache}\n")
    if not todo:
        return EXIT_OK
    try:
        remotes = [remote(w) for w in todo]
    except FetchError as exc:
        out.write(f"  cannot download: {exc}\n  {OFFLINE_ROUTES}; on a connected machine:\n")
        out.writelines(f"    {command}\n" for command in download_commands(family, todo))
        events.emit("download_refused", repo=None, file=None, message=str(exc))
        return EXIT_ENVIRONMENT
    cache.mkdir(parents=True, exist_ok=True)
    need = sum(r.size - partial_bytes(cache, w, r) for w, r in zip(todo, remotes))
    free = shutil.disk_usage(cache).free
    out.write(f"  to download: {len(todo)} file(s), {gib(need)}; free in {cache}: {gib(free)}\n")
    if need > free:
        out.write(f"  refused before downloading: {gib(need)} needed, {gib(free)} free in {cache}; free some space "
                  "or pass --models DIR on a bigger disk\n")
        events.emit("download_refused", repo=None, file=None, message=f"{need} bytes needed, {free} free")
        return EXIT_ENVIRONMENT
    fetched = 0
    for w, r in zip(todo, remotes):
        out.write(f"  {w.repo}/{w.name} ({gib(r.size)})\n")
        out.flush()
        try:
            result = fetch(w, cache, r, events, out, verify=verify)
        except FetchError as exc:
            out.write(f"  FAILED: {exc}\n")
            if exc.kind == "unreachable":
                out.write(f"  {OFFLINE_ROUTES}\n")
            return EXIT_ENVIRONMENT
        fetched += result.fetched_bytes
        out.write(f"    {result.state}: {result.path}\n")
    out.write(f"  weights complete: {gib(fetched)} downloaded this time\n")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    from doctor.install.families import resolve_family
    from runner import hub_env
    from runner.family import FamilyError

    # Installing is the one act that must reach the Hub: an offline setting (HF_HUB_OFFLINE, or the
    # TRANSFORMERS_OFFLINE huggingface_hub honours too) governs runs, not this step, which runs as its own
    # process before huggingface_hub is imported
    os.environ.update(dict.fromkeys(hub_env.VARIABLES, "0"))

    p = argparse.ArgumentParser(prog="python -m doctor.install.weights")
    p.add_argument("family")
    p.add_argument("--cache", required=True, help="the Hugging Face hub cache folder")
    p.add_argument("--verify", action="store_true", help="hash every blob already there (--repair)")
    p.add_argument("--optional", action="store_true", help="also the optional roles (the full-length weights)")
    p.add_argument("--events", help="append NDJSON progress events to this file")
    args = p.parse_args(argv)
    try:
        family = resolve_family(args.family)
    except FamilyError as exc:
        print(f"weights: {exc}", file=sys.stderr)
        return EXIT_USAGE
    events = Events(Path(args.events) if args.events else None)
    return install_weights(family, Path(args.cache), events, sys.stdout, verify=args.verify, optional=args.optional)


if __name__ == "__main__":
    sys.exit(main())

"""The checkout step: the upstream source at the family's pinned commit, verified.

`python -m doctor.install.checkout FAMILY --dest DIR [--repair]` clones into a sibling folder, checks out the
pinned commit detached, verifies that HEAD is that commit (git is content-addressed: the commit id covers
every file), and only then renames it to DIR. A failed clone leaves nothing at DIR. `--repair` moves a DIR
that is not a clean checkout of the commit aside (kept) and clones again.

`state(DIR, commit)` is also how an adopted checkout (`drdoctor install --diffrhythm DIR`) is judged; that one
is only read, never changed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ENVIRONMENT = 0, 1, 2, 3


@dataclass(frozen=True)
class CheckoutState:
    exists: bool
    is_git: bool
    head: str | None
    modified: tuple[str, ...]  # tracked files changed from the commit

    def at(self, commit: str) -> bool:
        return self.is_git and self.head == commit

    def describe(self, commit: str) -> str:
        if not self.exists:
            return "absent"
        if not self.is_git:
            return "not a git checkout: its commit cannot be verified"
        if self.head != commit:
            return f"at commit {self.head}, not the pinned {commit}"
        if self.modified:
            return f"at the pinned commit, but {len(self.modified)} tracked file(s) changed: {', '.join(self.modified[:5])}"
        return f"a clean checkout of {commit[:12]}"


def _git(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess | None:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true", GIT_OPTIONAL_LOCKS="0")  # read-only: no index refresh
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None


def state(folder: Path) -> CheckoutState:
    if not folder.is_dir():
        return CheckoutState(False, False, None, ())
    head = _git(["-C", str(folder), "rev-parse", "--verify", "HEAD"])
    top = _git(["-C", str(folder), "rev-parse", "--show-toplevel"])
    if head is None or head.returncode != 0 or top is None or Path(top.stdout.strip()).resolve() != folder.resolve():
        return CheckoutState(True, False, None, ())
    changed = _git(["-C", str(folder), "status", "--porcelain", "--untracked-files=no"])
    modified = tuple(line[3:] for line in (changed.stdout.splitlines() if changed and changed.returncode == 0 else ()))
    return CheckoutState(True, True, head.stdout.strip(), modified)


def host(url: str) -> str:
    parsed = urlparse(url)
    return parsed.netloc or (url.split(":")[0].split("@")[-1] if "@" in url else url)


def reachable(url: str, timeout: float = 15) -> str | None:
    """None when `git ls-remote` answers; else why not (the source host named)."""
    done = _git(["ls-remote", "--exit-code", url, "HEAD"], timeout=timeout)
    if done is None:
        return f"the source host {host(url)} did not answer within {timeout:.0f} s (git ls-remote {url})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"the source host {host(url)} cannot be reached: {last}"
    return None


def clone(url: str, commit: str, dest: Path, out, repair: bool = False, timeout: float = 1800) -> int:
    now = state(dest)
    if now.at(commit) and not now.modified:
        out.write(f"  checkout already in place: {dest} ({now.describe(commit)})\n")
        return EXIT_OK
    if now.exists:
        if not repair:
            out.write(f"  {dest} exists and is {now.describe(commit)}; run `drdoctor install --repair` to replace it "
                      "(it is moved aside, not deleted)\n")
            return EXIT_FAILED
        aside = dest.with_name(f"{dest.name}.drdoctor-{time.strftime('%Y%m%dT%H%M%S')}.bak")
        os.rename(dest, aside)
        out.write(f"  moved the broken checkout aside: {aside}\n")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.cloning-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        out.write(f"  git clone {url} (then check out {commit})\n")
        out.flush()
        steps = (
            ["clone", "--quiet", "--no-checkout", url, str(tmp)],
            ["-C", str(tmp), "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit],
        )
        for args in steps:
            done = _git(args, timeout=timeout)
            if done is None or done.returncode != 0:
                why = "timed out" if done is None else (done.stderr.strip().splitlines() or ["failed"])[-1]
                out.write(f"  FAILED: git {args[0] if args[0] != '-C' else args[3]}: {why}\n")
                if args[0] == "clone":
                    out.write(f"  the source host {host(url)} cannot be reached or refused; offline route: copy a "
                              f"checkout of {commit} here and pass `drdoctor install --diffrhythm DIR`\n")
                    return EXIT_ENVIRONMENT
                return EXIT_FAILED
        got = state(tmp)
        if not got.at(commit) or got.modified:
            out.write(f"  FAILED: the clone is {got.describe(commit)}\n")
            return EXIT_FAILED
        os.rename(tmp, dest)
        out.write(f"  checkout ready: {dest} at {commit} (verified: git rev-parse HEAD)\n")
        return EXIT_OK
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    from doctor.install.families import resolve_family
    from runner.family import FamilyError

    p = argparse.ArgumentParser(prog="python -m doctor.install.checkout")
    p.add_argument("family")
    p.add_argument("--dest", required=True)
    p.add_argument("--repair", action="store_true")
    args = p.parse_args(argv)
    try:
        family = resolve_family(args.family)
    except FamilyError as exc:
        print(f"checkout: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return clone(family.upstream_repo, family.upstream_commit, Path(args.dest), sys.stdout, repair=args.repair)


if __name__ == "__main__":
    sys.exit(main())

"""The environment step: a venv built from a lock, swapped in only once it imports.

`python -m doctor.install.environment FAMILY --variant V --root DIR --checkout DIR [--tool uv|pip]
[--index-url URL] [--find-links DIR] [--repair]`

Layout under the family's install root (runner.family.install_layout): `env` is a symlink to
`envs/<variant>-<lock sha256[:12]>-<time>/`. A build goes into a new folder under `envs/`; it is checked
with runner.import_check in the new interpreter (torch the expected build, every module of the
family's import list, the checkout's model code through runner.checkout_import); only then does `env`
point at it (an atomic symlink replace). A failed build or check removes the new folder: the previous
environment stays exactly as it was. The folder records what it was built from in `drdoctor-env.json`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from doctor.fixes.context import PipSource
from doctor.install.lock import (
    EnvironmentSpec,
    SpecError,
    environment_spec,
    read_header,
    uv_binary,
)
from doctor.launch import runner_path
from runner.atomic import symlink_atomic, write_text_atomic

MARKER = "drdoctor-env.json"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ENVIRONMENT = 0, 1, 2, 3


@dataclass(frozen=True)
class Lock:
    path: Path
    variant: str
    torch: str
    python: str
    sha256: str
    packages: int

    @property
    def folder_prefix(self) -> str:
        return f"{self.variant}-{self.sha256[:12]}"


def read_lock(path: Path) -> Lock:
    header = read_header(path)
    data = path.read_bytes()
    packages = sum(1 for line in data.decode("utf-8").splitlines() if line[:1].isalnum())
    return Lock(path, header["variant"], header["torch"], header["python"], hashlib.sha256(data).hexdigest(), packages)


def pinned(lock: Lock) -> list[str]:
    """`name==version` of every package in the lock."""
    text = lock.path.read_text(encoding="utf-8")
    return [line.split()[0] for line in text.splitlines() if line[:1].isalnum()]


def lock_for(spec: EnvironmentSpec, variant: str) -> Lock:
    if variant not in spec.variants:
        raise SpecError(f"the family has no {variant!r} environment (it has {', '.join(spec.variants)})")
    return read_lock(spec.variants[variant].lock)


def current(env_link: Path) -> tuple[Path | None, dict | None]:
    """(folder `env` points at, its marker) — (None, None) when there is no environment yet."""
    try:
        target = env_link.resolve(strict=True)
    except (OSError, RuntimeError):
        return None, None
    try:
        marker = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        marker = None
    return target, marker


def up_to_date(env_link: Path, lock: Lock) -> bool:
    """The current environment was built from this very lock, checked, and its interpreter starts."""
    target, marker = current(env_link)
    if target is None or not marker or marker.get("lock_sha256") != lock.sha256:
        return False
    python = target / "bin" / "python"
    try:
        return subprocess.run([str(python), "-c", "pass"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _tool(name: str | None) -> str:
    if name:
        return name
    return "uv" if uv_binary() else "pip"


def index_args(tool: str, spec: EnvironmentSpec, lock: Lock, sources: PipSource) -> list[str]:
    """Where the packages come from: the user's sources when given, else PyPI plus the variant's torch index."""
    if sources.overridden:
        return sources.args()
    extra = spec.variants[lock.variant].index
    if not extra:
        return []
    return ["--extra-index-url", extra] + (["--index-strategy", "unsafe-best-match"] if tool == "uv" else [])


def create_commands(tool: str, python: str, folder: Path, lock: Lock, indexes: list[str]) -> list[list[str]]:
    """The commands that make `folder` a venv holding exactly the lock (uv, or the standard venv + pip)."""
    if tool == "uv":
        uv = uv_binary() or "uv"
        return [
            [uv, "venv", "--quiet", "--python", python, str(folder)],
            [uv, "pip", "sync", "--python", str(folder / "bin" / "python"), "--require-hashes", *indexes, str(lock.path)],
        ]
    return [
        [python, "-m", "venv", str(folder)],
        [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--require-hashes", *indexes, "-r", str(lock.path)],
    ]


def base_python(spec: EnvironmentSpec, explicit: str | None) -> str:
    """The interpreter the venv is made from: --python, else this one when it is the lock's minor version,
    else `pythonX.Y` from PATH."""
    if explicit:
        return explicit
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == spec.python:
        return sys.executable
    return shutil.which(f"python{spec.python}") or f"python{spec.python}"


def import_check(python: Path, lock: Lock, spec: EnvironmentSpec, checkout: Path | None,
                 timeout: float = 900) -> dict:
    argv = [str(python), "-m", "runner.import_check", "--variant", lock.variant]
    if lock.torch:
        argv += ["--torch", lock.torch]
    for name in spec.import_check:
        argv += ["--module", name]
    if spec.checkout_import and checkout is not None:
        argv += ["--checkout", str(checkout)]
    # Only the runner on the path: drdoctor's own packages must not make a missing one import.
    env = dict(os.environ, PYTHONPATH=str(runner_path()), PYTHONNOUSERSITE="1", HF_HUB_OFFLINE="1")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(runner_path()))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"ok": False, "problems": [f"the import check could not run: {exc}"]}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"ok": False, "problems": ["the import check crashed: " + " | ".join(tail)]}


def _run(argv: list[str], out, timeout: float) -> tuple[int, list[str]]:
    out.write(f"  $ {' '.join(argv)}\n")
    out.flush()
    tail: list[str] = []
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    assert proc.stdout is not None
    started = time.monotonic()
    for line in proc.stdout:
        out.write("    " + line)
        tail = (tail + [line.rstrip()])[-15:]
        if time.monotonic() - started > timeout:
            proc.kill()
    return proc.wait(), tail


def swap_in(env_link: Path, folder: Path) -> Path | None:
    """Point `env` at `folder` atomically; a real folder at `env` (an older layout) is moved aside first.
    Returns the folder `env` pointed at before."""
    previous = None
    if env_link.is_symlink():
        previous = env_link.resolve()
    elif env_link.exists():
        previous = env_link.with_name(f"{env_link.name}.before-{time.strftime('%Y%m%dT%H%M%S')}")
        os.rename(env_link, previous)
    symlink_atomic(env_link, os.path.relpath(folder, env_link.parent))
    return previous


def prune(envs: Path, keep: set[Path]) -> None:
    """Remove environments other than the current and the previous one."""
    for child in envs.iterdir() if envs.is_dir() else ():
        if child.is_dir() and child.resolve() not in keep:
            shutil.rmtree(child, ignore_errors=True)


def build(spec: EnvironmentSpec, lock: Lock, root: Path, checkout: Path | None, sources: PipSource, out, *,
          tool: str | None = None, python: str | None = None, repair: bool = False, timeout: float = 3600) -> int:
    env_link = root / "env"
    if up_to_date(env_link, lock):
        if not repair:
            out.write(f"  environment already built from {lock.path.name} ({lock.packages} packages): {env_link}\n")
            return EXIT_OK
        result = import_check(env_link / "bin" / "python", lock, spec, checkout)
        if result.get("ok"):
            out.write(f"  environment re-checked: everything imports ({env_link})\n")
            return EXIT_OK
        out.write("  the current environment no longer imports: " + "; ".join(result.get("problems", [])) +
                  "\n  rebuilding it\n")
    tool = _tool(tool)
    envs = root / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    folder = envs / f"{lock.folder_prefix}-{time.strftime('%Y%m%dT%H%M%S')}"
    n = 1
    while folder.exists():
        folder = envs / f"{lock.folder_prefix}-{time.strftime('%Y%m%dT%H%M%S')}-{n}"
        n += 1
    started = time.monotonic()
    out.write(f"  building {folder} from {lock.path.name} with {tool} ({lock.packages} packages)\n")
    try:
        for argv in create_commands(tool, base_python(spec, python), folder, lock,
                                    index_args(tool, spec, lock, sources)):
            code, tail = _run(argv, out, timeout)
            if code != 0:
                last = next((line.strip() for line in reversed(tail) if line.strip()), "")
                out.write(f"  FAILED: {Path(argv[0]).name} {argv[1]} exited {code}" + (f" ({last})" if last else "") +
                          "; the new folder is removed and the previous environment is untouched\n")
                return EXIT_FAILED
        result = import_check(folder / "bin" / "python", lock, spec, checkout)
        if not result.get("ok"):
            out.write("  the new environment does not pass the import check:\n")
            for problem in result.get("problems", []):
                out.write(f"    - {problem}\n")
            out.write("  it was removed; the previous environment is untouched\n")
            return EXIT_FAILED
        marker = {"lock": str(lock.path), "lock_sha256": lock.sha256, "variant": lock.variant, "torch": lock.torch,
                  "built_with": tool, "seconds": round(time.monotonic() - started, 1), "check": result.get("found")}
        write_text_atomic(folder / MARKER, json.dumps(marker, indent=1) + "\n")
        previous = swap_in(env_link, folder)
        keep = {folder.resolve()} | ({previous.resolve()} if previous is not None else set())
        prune(envs, keep)
        out.write(f"  environment ready in {marker['seconds']} s: {env_link} -> {folder.name}\n")
        folder = None  # kept
        return EXIT_OK
    except KeyboardInterrupt:
        out.write("  interrupted; the previous environment is untouched\n")
        return 130
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    from doctor.install.families import resolve_family
    from runner.family import FamilyError

    p = argparse.ArgumentParser(prog="python -m doctor.install.environment")
    p.add_argument("family")
    p.add_argument("--variant", required=True)
    p.add_argument("--root", required=True, help="the family's install folder (env and envs/ live there)")
    p.add_argument("--checkout", help="the checkout whose model code the import check imports")
    p.add_argument("--tool", choices=("uv", "pip"))
    p.add_argument("--python", help="the interpreter the venv is made from")
    p.add_argument("--index-url")
    p.add_argument("--find-links", action="append", default=[])
    p.add_argument("--repair", action="store_true", help="re-run the import check even when up to date")
    args = p.parse_args(argv)
    try:
        spec = environment_spec(resolve_family(args.family))
        lock = lock_for(spec, args.variant)
    except (FamilyError, SpecError) as exc:
        print(f"environment: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sources = PipSource(index_url=args.index_url, find_links=tuple(args.find_links))
    return build(spec, lock, Path(args.root), Path(args.checkout) if args.checkout else None, sources, sys.stdout,
                 tool=args.tool, python=args.python, repair=args.repair)


if __name__ == "__main__":
    sys.exit(main())

"""Generate a family's environment locks: `python -m doctor.install.lock FAMILY [--variant V ...]`.

For each torch variant the family's "environment" names, the short input list (`inputs`) plus that variant's
torch and torchaudio releases (each variant names its own: PyPI serves one CUDA build per torch release) is resolved by uv (`uv pip compile --generate-hashes`) for the family's Python and platform,
and written as `<variant>.txt` beside the input list: exact versions and SHA-256 hashes of every package,
under a header line `# drdoctor-lock: {json}` that the installer reads (with `wheel_bytes`: what torch and its
CUDA libraries weigh, doctor.install.wheel_sizes). Never edit a lock by hand.

A variant whose package index cannot be reached (the PyTorch indexes, from some machines) is reported and
left without a lock; the exit status is then 3.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from doctor.install import wheel_sizes
from runner.atomic import write_text_atomic

HEADER = "# drdoctor-lock: "
PYPI = "https://pypi.org/simple"


@dataclass(frozen=True)
class Variant:
    name: str
    torch: str             # the torch release of this variant ("" for an environment without torch)
    torchaudio: str        # its paired torchaudio ("" when the environment needs none)
    index: str | None      # the variant's torch index (None: PyPI's own build of that release is this variant)
    lock: Path
    note: str = ""
    disk_bytes: int | None = None  # what a built environment takes on disk (measured), for the space check
    source: str = ""       # where the variant's build facts come from

    @property
    def from_pypi(self) -> bool:
        return self.index is None

    def requirements(self) -> list[str]:
        """The torch build of the variant as requirement lines ("+cpu"-style local versions on its own index)."""
        local = "" if self.index is None else f"+{self.name}"
        return [f"{name}=={version}{local}" for name, version in (("torch", self.torch), ("torchaudio", self.torchaudio))
                if version]


@dataclass(frozen=True)
class EnvironmentSpec:
    """The family file's "environment" key."""

    python: str
    platform: str
    inputs: Path
    variants: dict[str, Variant]
    import_check: tuple[str, ...]
    checkout_import: bool
    container_base: str = ""  # the plain Python image containers/Dockerfile builds on


class SpecError(ValueError):
    pass


def environment_spec(family) -> EnvironmentSpec:
    """The "environment" key of a family (runner.family.Family); paths are relative to the family file."""
    data = family.data.get("environment")
    where = f"{family.path} environment"
    if not isinstance(data, dict):
        raise SpecError(f"{where}: missing (the family has no inference environment to install)")
    base = family.path.parent
    try:
        variants = {
            name: Variant(name, str(v.get("torch") or ""), str(v.get("torchaudio") or ""), v.get("index"),
                          base / v["lock"], v.get("note", ""), v.get("disk_bytes"), v.get("source", ""))
            for name, v in data["variants"].items()
        }
        return EnvironmentSpec(
            python=str(data["python"]), platform=str(data.get("platform", "x86_64-manylinux_2_28")),
            inputs=base / data["inputs"], variants=variants, import_check=tuple(data.get("import_check", ())),
            checkout_import=bool(data.get("checkout_import", True)), container_base=str(data.get("container_base", "")),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise SpecError(f"{where}: {exc!r} is missing or malformed") from exc


def read_header(lock: Path) -> dict:
    """The JSON header of a lock file; SpecError when absent."""
    try:
        with lock.open(encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(HEADER):
                    return json.loads(line[len(HEADER):])
    except FileNotFoundError as exc:
        raise SpecError(f"no lock {lock}") from exc
    except (OSError, ValueError) as exc:
        raise SpecError(f"lock {lock} cannot be read: {exc}") from exc
    raise SpecError(f"{lock} has no '{HEADER.strip()}' header: not written by doctor.install.lock")


def uv_binary() -> str | None:
    """uv from drdoctor's own environment (a dependency), else PATH."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.is_file() else shutil.which("uv")


def reachable(url: str, timeout: float = 8.0) -> str | None:
    """None when the index answers; otherwise why not."""
    import urllib.error
    import urllib.request

    if url.startswith("file:") or "://" not in url:
        path = Path(url.removeprefix("file://"))
        return None if path.exists() else f"{path} does not exist"
    try:
        urllib.request.urlopen(urllib.request.Request(url.rstrip("/") + "/", method="HEAD"), timeout=timeout).close()
        return None
    except urllib.error.HTTPError:
        return None  # it answered
    except Exception as exc:  # noqa: BLE001 - DNS, refused, timeout, TLS
        return f"{url} cannot be reached ({type(exc).__name__}: {getattr(exc, 'reason', exc)})"


def compile_lock(spec: EnvironmentSpec, variant: str, *, index_url: str | None, find_links: list[str],
                 uv: str, timeout: float = 900) -> str:
    """The lock text for one variant (header + uv's output); RuntimeError with uv's message on failure."""
    inputs_text = spec.inputs.read_text(encoding="utf-8")
    v = spec.variants[variant]
    with tempfile.TemporaryDirectory(prefix="drdoctor-lock-") as tmp:
        infile = Path(tmp) / "requirements.in"
        infile.write_text("".join(f"{line}\n" for line in v.requirements()) + inputs_text, encoding="utf-8")
        out = Path(tmp) / "lock.txt"
        argv = [uv, "pip", "compile", "--quiet", "--no-header", "--generate-hashes", "--python-version", spec.python,
                "--python-platform", spec.platform, str(infile), "-o", str(out)]
        if index_url:
            argv += ["--index-url", index_url]
        elif find_links:
            argv.append("--no-index")
        for link in find_links:
            argv += ["--find-links", link]
        if v.index and not (index_url or find_links):
            argv += ["--extra-index-url", v.index, "--index-strategy", "unsafe-best-match"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError((done.stderr or done.stdout).strip())
        body = out.read_text(encoding="utf-8").replace(str(infile), spec.inputs.name)
    indexes = [index_url] if index_url else ([] if find_links else [PYPI, *([v.index] if v.index else [])])
    header = {
        "wheel_bytes": wheel_sizes.measure(body, python=spec.python, platform=spec.platform, indexes=indexes,
                                           folders=find_links),
        "variant": variant, "torch": v.torch, "torchaudio": v.torchaudio, "python": spec.python, "platform": spec.platform,
        "index": v.index, "inputs_sha256": hashlib.sha256(inputs_text.encode()).hexdigest(),
    }
    command = f"python -m doctor.install.lock {spec.inputs.parent.name} --variant {variant}"
    return (f"# The {variant} environment lock: generated by `{command}` from {spec.inputs.name}; do not edit.\n"
            f"{HEADER}{json.dumps(header, sort_keys=True)}\n{body}")


def main(argv: list[str] | None = None) -> int:
    from doctor.install.families import resolve_family
    from runner.family import FamilyError

    p = argparse.ArgumentParser(prog="python -m doctor.install.lock", description=__doc__.splitlines()[0])
    p.add_argument("family", help="a family id (doctor/data/families/ID.json) or the path of a family file")
    p.add_argument("--variant", action="append", default=[], help="only this variant (repeatable)")
    p.add_argument("--index-url", help="resolve from this index instead of PyPI (+ the variant's torch index)")
    p.add_argument("--find-links", action="append", default=[], help="a wheel folder; without --index-url: offline")
    args = p.parse_args(argv)
    try:
        spec = environment_spec(resolve_family(args.family))
    except (FamilyError, SpecError) as exc:
        print(f"lock: {exc}", file=sys.stderr)
        return 2
    uv = uv_binary()
    if uv is None:
        print("lock: uv is not installed (pip install uv)", file=sys.stderr)
        return 3
    unknown = [v for v in args.variant if v not in spec.variants]
    if unknown:
        print(f"lock: unknown variant(s) {', '.join(unknown)}; the family has {', '.join(spec.variants)}", file=sys.stderr)
        return 2
    status = 0
    for name in args.variant or list(spec.variants):
        v = spec.variants[name]
        sources = [args.index_url] if args.index_url else list(args.find_links) or [PYPI]
        if v.index and not (args.index_url or args.find_links):
            sources.append(v.index)
        problems = [why for why in map(reachable, sources) if why]
        if problems:
            print(f"{name}: not generated: {'; '.join(problems)}")
            status = 3
            continue
        try:
            text = compile_lock(spec, name, index_url=args.index_url, find_links=args.find_links, uv=uv)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"{name}: not generated: uv could not resolve it:\n{exc}")
            status = 3
            continue
        write_text_atomic(v.lock, text, 0o644)
        packages = sum(1 for line in text.splitlines() if line and line[0].isalnum())
        print(f"{name}: wrote {v.lock} ({packages} packages)")
    return status


if __name__ == "__main__":
    sys.exit(main())

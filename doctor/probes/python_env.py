"""The target interpreter's packages (torch build, torchaudio, transformers, ...), read as text.

Nothing is imported from the target environment: its site folders come from one short `python -I -c`
run (or from this process when the target is this interpreter), then each package's
`*.dist-info/METADATA` and `torch/version.py` are read as text. `--deep` imports torch in the target
to confirm CUDA works.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from doctor.probes._run import run

PACKAGES = ("torch", "torchaudio", "transformers", "numpy", "muq", "phonemizer")
SITE_QUERY_TIMEOUT = 10.0
DEEP_TIMEOUT = 120.0

_SITE_QUERY = "import sys, json; print(json.dumps({'version': sys.version.split()[0], 'path': sys.path}))"
_DEEP_QUERY = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import torch
    available = torch.cuda.is_available()
    facts = {
        "version": torch.__version__,
        "cuda": torch.version.cuda,
        "cuda_available": available,
        "device_name": torch.cuda.get_device_name(0) if available else None,
        "arch_list": torch.cuda.get_arch_list() if torch.version.cuda else [],
    }
facts["warnings"] = [str(w.message) for w in caught if "cuda" in str(w.message).lower()]
print(json.dumps(facts))
"""


@dataclass(frozen=True)
class TorchBuild:
    version: str  # from torch/version.py, with its local tag when there is one: "2.14.1+cu130"
    metadata_version: str | None  # METADATA's Version (the default-index CUDA wheel has no tag there)
    variant: str  # "cpu", "cu124", "rocm6.2", ...
    cuda: str | None  # CUDA version it was built for ("12.4"), None for CPU/ROCm builds
    hip: str | None


@dataclass(frozen=True)
class DeepTorch:
    error: str | None  # why importing torch in the target failed, or None
    cuda_available: bool | None = None
    device_name: str | None = None
    arch_list: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PythonFacts:
    python: str
    found: bool
    error: str | None  # why the interpreter could not be asked, or None
    version: str | None = None
    site_dirs: tuple[str, ...] = ()
    packages: dict[str, str] = field(default_factory=dict)  # name -> METADATA Version
    torch: TorchBuild | None = None
    deep: DeepTorch | None = None


def _site_dirs(paths: list[str]) -> tuple[str, ...]:
    return tuple(p for p in paths if p.rstrip("/").endswith(("site-packages", "dist-packages")))


def _metadata_version(dist_info: Path) -> str | None:
    try:
        with (dist_info / "METADATA").open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
                if not line.strip():
                    break
    except OSError:
        pass
    return None


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _find_packages(site_dirs: tuple[str, ...]) -> tuple[dict[str, str], dict[str, Path]]:
    """name -> version and name -> site folder, first folder on sys.path winning (as imports do)."""
    versions: dict[str, str] = {}
    homes: dict[str, Path] = {}
    wanted = set(PACKAGES)
    for site in site_dirs:
        try:
            entries = list(Path(site).iterdir())
        except OSError:
            continue
        for entry in entries:
            if not entry.name.endswith(".dist-info"):
                continue
            name = _normalise(entry.name[: -len(".dist-info")].split("-", 1)[0])
            if name in wanted and name not in versions:
                version = _metadata_version(entry)
                if version:
                    versions[name], homes[name] = version, Path(site)
    return versions, homes


def _version_py(path: Path) -> dict[str, object]:
    """The simple assignments of torch/version.py (`cuda: Optional[str] = '12.4'` included)."""
    values: dict[str, object] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError):  # absent, unreadable, or not UTF-8: no build facts rather than a crashed probe
        return values
    for name, literal in re.findall(r"^(\w+)\s*(?::[^=\n]*)?=\s*(.+)$", text, re.M):
        try:
            values[name] = ast.literal_eval(literal.strip())
        except (ValueError, SyntaxError):
            continue
    return values


def torch_build(torch_dir: Path, metadata_version: str | None = None) -> TorchBuild | None:
    """The build of the torch package in `torch_dir`, from its torch/version.py (the one parser of that file:
    this probe and `doctor.wheels installed-matches` use it); None when neither it nor METADATA gives a version."""
    values = _version_py(torch_dir / "version.py")
    if not (values.get("__version__") or metadata_version):
        return None
    version = str(values.get("__version__") or metadata_version)
    cuda = values.get("cuda") if isinstance(values.get("cuda"), str) else None
    hip = values.get("hip") if isinstance(values.get("hip"), str) else None
    if "+" in version:
        variant = version.split("+", 1)[1]
    elif cuda:
        variant = "cu" + cuda.replace(".", "")
    elif hip:
        variant = "rocm" + hip
    else:
        variant = "cpu"
    return TorchBuild(version=version, metadata_version=metadata_version, variant=variant, cuda=cuda, hip=hip)


def _deep(python: str) -> DeepTorch:
    done = run([python, "-c", _DEEP_QUERY], timeout=DEEP_TIMEOUT)
    if done is None:
        return DeepTorch(error=f"{python} did not finish importing torch within {DEEP_TIMEOUT:.0f} s")
    lines = done.stdout.strip().splitlines()
    try:
        facts = json.loads(lines[-1]) if done.returncode == 0 and lines else None
    except ValueError:
        facts = None
    if not isinstance(facts, dict):
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return DeepTorch(error=f"importing torch failed: {last}")
    return DeepTorch(
        error=None,
        cuda_available=bool(facts.get("cuda_available")),
        device_name=facts.get("device_name"),
        arch_list=tuple(facts.get("arch_list") or ()),
        warnings=tuple(facts.get("warnings") or ()),
    )


def probe(python: str | None, deep: bool = False) -> PythonFacts:
    """Facts about `python` (None: this interpreter)."""
    target = python or sys.executable
    # Not resolve(): a venv's python is a symlink to the base interpreter, yet another environment.
    if python is None or Path(python).absolute() == Path(sys.executable).absolute():
        version, paths = sys.version.split()[0], list(sys.path)
    else:
        if not Path(python).is_file():
            return PythonFacts(python=target, found=False, error=f"{python} does not exist")
        done = run([python, "-I", "-c", _SITE_QUERY], timeout=SITE_QUERY_TIMEOUT)
        if done is None or done.returncode != 0:
            reason = "did not answer in time or could not start" if done is None else done.stderr.strip()[-300:]
            return PythonFacts(python=target, found=True, error=f"{python} could not be asked for its site folders: {reason}")
        try:
            answer = json.loads(done.stdout)
        except ValueError:
            return PythonFacts(python=target, found=True, error=f"{python} gave an unreadable answer: {done.stdout[:200]!r}")
        version, paths = answer["version"], answer["path"]
    site_dirs = _site_dirs(paths)
    versions, homes = _find_packages(site_dirs)
    return PythonFacts(
        python=target,
        found=True,
        error=None,
        version=version,
        site_dirs=site_dirs,
        packages=versions,
        torch=torch_build(homes["torch"] / "torch", versions["torch"]) if "torch" in versions else None,
        deep=_deep(target) if deep and "torch" in versions else None,
    )

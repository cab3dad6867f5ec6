"""The explicit inputs every fix plans from.

Fixes never probe the machine themselves: the command layer fills a `FixContext` from the checkup's
facts (or from flags), and tests build one by hand. So a plan is a pure function of its context plus
the current content of the files it edits.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Version = tuple[int, ...]


@dataclass(frozen=True)
class PipSource:
    """Where pip installs come from. Default: the real indexes (PyPI, download.pytorch.org/whl/<variant>).

    `find_links` with no `index_url` means offline: `--no-index --find-links DIR` (tests and users
    with a wheel folder). Flags `--index-url`/`--find-links`, or env `DRDOCTOR_PIP_INDEX_URL` /
    `DRDOCTOR_PIP_FIND_LINKS` (paths separated by os.pathsep), set it.
    """

    index_url: str | None = None
    find_links: tuple[str, ...] = ()

    @property
    def overridden(self) -> bool:
        return bool(self.index_url or self.find_links)

    def args(self, default_index: str | None = None) -> list[str]:
        """pip arguments choosing the source; `default_index` is used when nothing overrides it."""
        out: list[str] = []
        if self.index_url:
            out += ["--index-url", self.index_url]
        elif self.find_links:
            out.append("--no-index")
        elif default_index:
            out += ["--index-url", default_index]
        for link in self.find_links:
            out += ["--find-links", link]
        return out

    @classmethod
    def from_env(cls, env: Mapping[str, str], index_url: str | None = None, find_links: list[str] | None = None) -> "PipSource":
        index = index_url or env.get("DRDOCTOR_PIP_INDEX_URL") or None
        links = list(find_links or [])
        if not links and env.get("DRDOCTOR_PIP_FIND_LINKS"):
            links = [p for p in env["DRDOCTOR_PIP_FIND_LINKS"].split(os.pathsep) if p]
        return cls(index_url=index, find_links=tuple(links))


@dataclass(frozen=True)
class FixContext:
    root: Path = Path("/")                       # filesystem root (a fixture tree in tests)
    python: str | None = None                    # the TARGET interpreter: DiffRhythm's environment
    packages: Mapping[str, str] = field(default_factory=dict)  # installed distributions there: name -> version
    python_error: str | None = None              # why the target's packages could not be read (then nothing is planned)
    torch_build: tuple[str, str] | None = None   # (version, variant) read from torch/version.py there
    driver_cuda: Version | None = None           # highest CUDA the driver supports, e.g. (12, 4)
    driver_version: str | None = None            # the Linux driver's number ("550.54.14"); None on WSL2 (Windows numbers)
    compute_capability: Version | None = None    # first GPU's, e.g. (8, 6)
    torch_version: str | None = None             # `--torch-version`: the release the user wants
    platform: str = "linux"                      # "linux", "wsl1", "wsl2"
    wslconfig: Path | None = None                # the Windows user's .wslconfig (may not exist yet)
    windows_ram: int | None = None               # bytes of RAM the Windows host has
    linux_ram: int | None = None                 # bytes of RAM this Linux (the WSL VM) sees
    ram_need: int | None = None                  # bytes the run this machine would make needs (the mem.* checks' figure)
    diffrhythm: Path | None = None               # the DiffRhythm checkout
    models_dirs: tuple[Path, ...] = ()           # extra folders the user says hold weights
    hf_cache: Path | None = None                 # ~/.cache/huggingface/hub (under root)
    config_path: Path | None = None              # drdoctor's config.toml
    config: Mapping[str, Any] = field(default_factory=dict)
    pip: PipSource = PipSource()
    online: bool = False                         # can reach huggingface.co
    euid: int = 0
    os_release: Mapping[str, str] = field(default_factory=dict)
    which: Callable[[str], str | None] = shutil.which
    models: Any = None                           # doctor.probes.models.ModelsFacts: every copy of every weight
    espeak: bool | None = None                   # espeak-ng (with its voices) is installed
    espeak_broken_voices: tuple[str, ...] = ()   # needed voices espeak-ng lists but cannot phonemize with
    container_ready: bool | None = None          # the container image is present locally

    @property
    def models_complete(self) -> bool:
        """Every needed weight has a whole copy (for hf.offline)."""
        if self.models is None:
            return False
        return self.models.complete  # the hf.offline check's rule

    def at(self, path: str | Path) -> Path:
        """A machine path inside `root`."""
        return self.root / str(path).lstrip("/")

    def target_unusable(self) -> str | None:
        """Why a package fix cannot plan for the target environment; None when it can."""
        if not self.python:
            return "no target Python: pass --python (DiffRhythm's environment)"
        if self.python_error:
            return f"cannot read the target environment: {self.python_error}"
        return None

    def pip_cmd(self) -> list[str]:
        return [self.python or "python3", "-m", "pip"]

    def sudo(self, argv: list[str]) -> tuple[str, ...]:
        """argv run as root: unchanged when drdoctor is root, else through `sudo`."""
        return tuple(argv) if self.euid == 0 else ("sudo", *argv)


def parse_os_release(text: str | None) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        fields[key.strip()] = value.strip().strip('"').strip("'")
    return fields

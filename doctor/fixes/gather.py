"""From the checkup's facts (plus the user's flags) to the explicit inputs of every fix.

Flags win over facts: `--driver-cuda 12.4` plans torch for that driver whatever NVML says (useful
offline, in a container build, and in tests); `--ram 32GB` sizes WSL's memory for that host.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doctor import config as config_mod
from doctor.fixes.context import FixContext, PipSource, parse_os_release
from doctor.probes._fs import at, read_text
from doctor.probes._run import run

GIB = 1 << 30


@dataclass(frozen=True)
class FixOptions:
    root: Path = Path("/")
    python: str | None = None
    diffrhythm: str | None = None
    models: tuple[str, ...] = ()
    wslconfig: str | None = None
    ram: int | None = None                    # bytes of the Windows host's RAM (--ram)
    driver_cuda: tuple[int, int] | None = None
    compute_capability: tuple[int, int] | None = None
    torch_version: str | None = None
    config_path: Path | None = None
    index_url: str | None = None
    find_links: tuple[str, ...] = ()
    online: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


def windows_ram(facts: Any, options: FixOptions) -> int | None:
    """The Windows host's RAM: --ram; else ask Windows through interop; else WSL's default (half of it)."""
    if options.ram:
        return options.ram
    platform = getattr(facts, "platform", None)
    if platform is None or platform.kind != "wsl2":
        return None
    powershell = shutil.which("powershell.exe", path=options.env.get("PATH")) if options.root == Path("/") else None
    if powershell:
        done = run([powershell, "-NoProfile", "-NonInteractive", "-Command",
                    "(Get-CimInstance Win32_ComputerSystem).TotalPhysicalMemory"], timeout=15)
        if done is not None and done.returncode == 0 and done.stdout.strip().isdigit():
            return int(done.stdout.strip())
    memory = getattr(facts, "memory", None)
    if memory is None or not memory.ram_total:
        return None
    if any(c.memory for c in memory.wslconfigs):
        return None  # the VM's size is the user's setting: it says nothing about the host
    # Without `memory=`, WSL2 gives the VM half of the host's RAM.
    return memory.ram_total * 2


def ram_need(facts: Any) -> int | None:
    """What the mem.* checks say this machine's run needs (device and model variant from the facts)."""
    if getattr(facts, "gpu", None) is None or getattr(facts, "models", None) is None:
        return None
    from doctor.checks.memory import plan as run_plan

    try:
        return run_plan(facts)[2]
    except (AttributeError, KeyError, StopIteration):
        return None


def espeak_works(espeak: Any) -> bool | None:
    """espeak-ng works for the g2p by the sys.espeak check's own rule."""
    if espeak is None:
        return None
    from doctor.checks.tools import espeak_problem

    return espeak_problem(espeak) is None


def context_from_facts(facts: Any, options: FixOptions) -> FixContext:
    """A FixContext from a `doctor.facts.Facts` (any field may be None) and the flags."""
    env = options.env
    config_path = options.config_path or config_mod.config_path(env)
    try:
        config = config_mod.load(config_path)
    except config_mod.ConfigError:
        config = {}
    python_facts = getattr(facts, "python", None)
    packages: dict[str, str] = {}
    torch_build = None
    python = options.python or config_mod.get(config, "diffrhythm", "python")
    python_error = python_facts.error if python_facts is not None else "the target Python was not probed"
    if python_facts is not None and python_facts.found and not python_facts.error:
        packages = dict(python_facts.packages)
        if python_facts.torch is not None:
            torch_build = (python_facts.torch.version, python_facts.torch.variant)
        python = python or python_facts.python
    gpu = getattr(facts, "gpu", None)
    driver_cuda = options.driver_cuda or (gpu.cuda_driver if gpu is not None and gpu.driver_works else None)
    platform = getattr(facts, "platform", None)
    # A driver number for the minor-version-compatibility floor: the NVML one, unless --driver-cuda plans for
    # another driver, or on WSL2 (the Windows driver's numbers).
    driver_version = None
    if not options.driver_cuda and gpu is not None and gpu.driver_works and getattr(platform, "kind", None) != "wsl2":
        driver_version = gpu.driver_version
    capability = options.compute_capability
    if capability is None and gpu is not None and gpu.devices:
        capability = gpu.devices[0].compute_capability
    checkout = getattr(facts, "checkout", None)
    # The checkout the checkup recognised (from --diffrhythm, the config, ...); a --diffrhythm folder that is
    # not a checkout is still where the user wants things.
    diffrhythm = (checkout.path if checkout is not None and checkout.path else None) or options.diffrhythm
    espeak = getattr(facts, "espeak", None)
    return FixContext(
        root=options.root,
        python=python,
        packages=packages,
        python_error=python_error,
        torch_build=torch_build,
        driver_cuda=driver_cuda,
        driver_version=driver_version,
        compute_capability=capability,
        torch_version=options.torch_version,
        platform=platform.kind if platform is not None else "linux",
        wslconfig=at(options.root, options.wslconfig) if options.wslconfig else None,
        windows_ram=windows_ram(facts, options),
        linux_ram=getattr(getattr(facts, "memory", None), "ram_total", None),
        ram_need=ram_need(facts),
        diffrhythm=at(options.root, diffrhythm) if diffrhythm else None,
        models_dirs=tuple(Path(m) for m in options.models),
        config_path=config_path,
        config=config,
        pip=PipSource.from_env(env, options.index_url, list(options.find_links)),
        online=options.online,
        euid=os.geteuid(),
        os_release=parse_os_release(read_text(at(options.root, "/etc/os-release"))),
        which=lambda name: shutil.which(name, path=env.get("PATH")),
        models=getattr(facts, "models", None),
        espeak=espeak_works(espeak),
        espeak_broken_voices=tuple(voice for voice, _ in getattr(espeak, "voices_broken", ())),
        container_ready=None,
    )


def parse_cuda(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", text)
    if not match:
        raise ValueError(f"{text!r} is not a version like 12.4")
    return int(match.group(1)), int(match.group(2))

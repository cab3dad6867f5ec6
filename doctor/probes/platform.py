"""Platform facts: native Linux, WSL1 or WSL2, container, distro, kernel, CPU, Windows drive mounts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from doctor.probes._fs import at, exists, read_text

# CPU flags that change how fast (or whether) bfloat16 inference runs on the CPU.
CPU_FLAGS_OF_NOTE = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
WINDOWS_FS_TYPES = ("9p", "drvfs", "v9fs")
CONTAINER_CGROUP_MARKS = ("docker", "kubepods", "containerd", "libpod", "lxc")


@dataclass(frozen=True)
class Mount:
    point: str
    fstype: str


@dataclass(frozen=True)
class PlatformFacts:
    kind: str  # "linux", "wsl1", "wsl2"
    kernel: str | None
    distro: str | None
    container: str | None  # "docker", "podman", a cgroup mark, or None
    wsl_distro_name: str | None
    wsl_gpu_device: bool  # /dev/dxg: the GPU paravirtualisation device of WSL2
    wsl_lib_dir: bool  # /usr/lib/wsl/lib: the Windows driver's libraries
    cpu_model: str | None
    cpu_count: int
    cpu_flags: tuple[str, ...]  # those of CPU_FLAGS_OF_NOTE that the CPU has
    windows_mounts: tuple[Mount, ...]  # DrvFs/9p mounts of Windows drives

    def windows_mount_of(self, path: str) -> Mount | None:
        """The Windows drive mount holding `path` (as the machine sees it), if any."""
        target = PurePosixPath(path)
        best = None
        for mount in self.windows_mounts:
            point = PurePosixPath(mount.point)
            if target == point or point in target.parents:
                if best is None or len(mount.point) > len(best.point):
                    best = mount
        return best


def _wsl_kind(version: str, osrelease: str, env: Mapping[str, str]) -> str:
    text = f"{version} {osrelease}"
    if re.search(r"WSL2|microsoft-standard", text, re.I):
        return "wsl2"
    if "Microsoft" in text:  # WSL1 kernels report e.g. 4.4.0-19041-Microsoft
        return "wsl1"
    if "microsoft" in text.lower() or env.get("WSL_DISTRO_NAME") or env.get("WSL_INTEROP"):
        return "wsl2"
    return "linux"


def _distro(os_release: str | None) -> str | None:
    if not os_release:
        return None
    fields = dict(re.findall(r'^(\w+)="?([^"\n]*)"?', os_release, re.M))
    return fields.get("PRETTY_NAME") or fields.get("NAME")


def _container(root: Path, cgroup: str | None) -> str | None:
    if exists(at(root, "/.dockerenv")):
        return "docker"
    if exists(at(root, "/run/.containerenv")):
        return "podman"
    for mark in CONTAINER_CGROUP_MARKS:
        if cgroup and mark in cgroup:
            return mark
    return None


def _cpu(cpuinfo: str | None) -> tuple[str | None, int, tuple[str, ...]]:
    if not cpuinfo:
        return None, 0, ()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    count = len(re.findall(r"^processor\s*:", cpuinfo, re.M))
    flags_line = re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.M)
    flags = set(flags_line.group(1).split()) if flags_line else set()
    return (model.group(1).strip() if model else None), count, tuple(f for f in CPU_FLAGS_OF_NOTE if f in flags)


def _windows_mounts(mounts: str | None) -> tuple[Mount, ...]:
    found = []
    for line in (mounts or "").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] in WINDOWS_FS_TYPES and re.fullmatch(r"/mnt/[a-zA-Z]", parts[1]):
            found.append(Mount(point=parts[1], fstype=parts[2]))
    return tuple(found)


def probe(root: Path, env: Mapping[str, str]) -> PlatformFacts:
    version = read_text(at(root, "/proc/version")) or ""
    osrelease = (read_text(at(root, "/proc/sys/kernel/osrelease")) or "").strip()
    model, count, flags = _cpu(read_text(at(root, "/proc/cpuinfo"), limit=4 << 20))
    return PlatformFacts(
        kind=_wsl_kind(version, osrelease, env),
        kernel=osrelease or None,
        distro=_distro(read_text(at(root, "/etc/os-release"))),
        container=_container(root, read_text(at(root, "/proc/1/cgroup"))),
        wsl_distro_name=env.get("WSL_DISTRO_NAME") or None,
        wsl_gpu_device=exists(at(root, "/dev/dxg")),
        wsl_lib_dir=exists(at(root, "/usr/lib/wsl/lib")),
        cpu_model=model,
        cpu_count=count,
        cpu_flags=flags,
        windows_mounts=_windows_mounts(read_text(at(root, "/proc/mounts"))),
    )

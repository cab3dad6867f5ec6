"""`espeak.install`: espeak-ng (the lyrics g2p needs it, with its cmn/en-us/ko/fr-fr/de voices).

When espeak-ng is there but a needed voice cannot phonemize (its data files are gone), installing again would
change nothing: the package that holds the voice data is reinstalled instead.

The distro's package manager, picked from /etc/os-release (ID, then ID_LIKE), run as root: directly when
drdoctor is root, else through `sudo` (each step is confirmed first; sudo asks for its own password).
"""

from __future__ import annotations

from pathlib import Path

from doctor.fixes.context import FixContext
from doctor.fixes.plan import CommandStep, Plan

FIX_ID = "espeak.install"
TITLE = "install espeak-ng with the distro's package manager"

# family -> steps (each an argv); the first matching os-release ID or ID_LIKE word wins.
MANAGERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "debian": (("apt-get", "update"), ("apt-get", "install", "-y", "espeak-ng")),
    "fedora": (("dnf", "install", "-y", "espeak-ng"),),
    "arch": (("pacman", "-S", "--needed", "--noconfirm", "espeak-ng"),),
    "suse": (("zypper", "--non-interactive", "install", "espeak-ng"),),
    "alpine": (("apk", "add", "espeak-ng"),),
}
# family -> the step that puts a damaged package's files back
REINSTALL: dict[str, tuple[tuple[str, ...], ...]] = {
    "debian": (("apt-get", "update"), ("apt-get", "install", "-y", "--reinstall", "espeak-ng-data")),
    "fedora": (("dnf", "reinstall", "-y", "espeak-ng"),),
    "arch": (("pacman", "-S", "--noconfirm", "espeak-ng"),),
    "suse": (("zypper", "--non-interactive", "install", "--force", "espeak-ng"),),
    "alpine": (("apk", "fix", "espeak-ng"),),
}
FAMILIES = {
    "debian": "debian", "ubuntu": "debian", "linuxmint": "debian", "pop": "debian", "raspbian": "debian",
    "fedora": "fedora", "rhel": "fedora", "centos": "fedora", "rocky": "fedora", "almalinux": "fedora",
    "arch": "arch", "manjaro": "arch", "endeavouros": "arch",
    "opensuse": "suse", "opensuse-leap": "suse", "opensuse-tumbleweed": "suse", "sles": "suse", "suse": "suse",
    "alpine": "alpine",
}


def family(os_release: dict) -> str | None:
    words = [os_release.get("ID", "")] + os_release.get("ID_LIKE", "").split()
    for word in words:
        if word.lower() in FAMILIES:
            return FAMILIES[word.lower()]
    return None


def plan(ctx: FixContext) -> Plan:
    if ctx.espeak:
        return Plan(FIX_ID, TITLE, done_reason="espeak-ng is installed")
    fam = family(dict(ctx.os_release))
    if fam is None:
        name = ctx.os_release.get("PRETTY_NAME") or ctx.os_release.get("ID") or "this distro"
        return Plan(FIX_ID, TITLE, blocked=f"no known package manager for {name}; install espeak-ng by hand")
    table = REINSTALL if ctx.espeak_broken_voices else MANAGERS
    if ctx.root != Path("/"):
        commands = "; ".join(" ".join(argv) for argv in table[fam])
        return Plan(FIX_ID, TITLE, blocked=f"--root names a fixture tree, and the package manager would change this machine: {commands}")
    if ctx.euid != 0 and not ctx.which("sudo"):
        return Plan(FIX_ID, TITLE, blocked="installing packages needs root and sudo is not on PATH; run `drdoctor fix espeak.install` as root")
    steps = tuple(
        CommandStep(ctx.sudo(list(argv)), f"{argv[0]} {' '.join(a for a in argv[1:] if not a.startswith('-'))}", needs_root=True, timeout=1800)
        for argv in table[fam]
    )
    notes = ("the package manager runs as root" + ("" if ctx.euid == 0 else " through sudo (it may ask for your password)"),)
    if ctx.espeak_broken_voices:
        notes += (f"espeak-ng is installed but cannot phonemize with {', '.join(ctx.espeak_broken_voices)}: "
                  "its voice data is reinstalled",)
    return Plan(FIX_ID, TITLE, steps=steps, notes=notes)

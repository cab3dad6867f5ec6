"""`wsl.memory`: give the WSL2 VM enough memory (and swap) for DiffRhythm, in the Windows `.wslconfig`.

Sizing rule (GiB, from the Windows host's RAM R; written as whole GB, which WSL reads as GiB):
  NEED   = 15   the largest RAM estimate in data/assets.json `ram_bytes` (full model on the CPU: 16e9 bytes,
                rounded up to GiB): the 1.1 B-parameter DiT in float32, MuQ-MuLan + xlm-roberta, the VAE and
                activations; on a GPU less, but the VM size should not depend on which device runs today.
  memory = min(R - 4, max(NEED, 3/4 R))   leave Windows at least 4 GiB; otherwise 3/4 of the host,
                                          and never less than NEED when the host has it
  swap   = max(8, NEED + 4 - memory)      a swap file covers what memory cannot (WSL's default is 1/4 R)
A value the user already set higher is never lowered. Every other line of the file stays byte-for-byte.
WSL reads `.wslconfig` when the VM starts: `wsl.exe --shutdown` (from Windows, or here when wsl.exe is on
PATH through interop) makes the change take effect; it ends every running WSL distro.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from doctor import wslconfig
from doctor.assets import assets
from doctor.fixes.context import FixContext
from doctor.fixes.plan import CommandStep, Plan, edit

FIX_ID = "wsl.memory"
TITLE = "give WSL2 enough memory and swap for DiffRhythm (.wslconfig)"
GIB = 1 << 30
NEED_GIB = math.ceil(max(v for d in ("cpu", "gpu") for v in assets()["ram_bytes"][d].values()) / (1 << 30))
WINDOWS_RESERVE_GIB = 4
MIN_SWAP_GIB = 8
NOT_USERS = {"public", "default", "default user", "all users", "defaultapppool", "wdagutilityaccount"}


def sizing(windows_ram: int) -> tuple[int, int]:
    """(memory GiB, swap GiB) for a host with `windows_ram` bytes, by the rule in the module doc."""
    ram_gib = windows_ram / GIB
    memory = int(min(ram_gib - WINDOWS_RESERVE_GIB, max(NEED_GIB, ram_gib * 3 / 4)))
    memory = max(memory, 2)
    swap = max(MIN_SWAP_GIB, NEED_GIB + 4 - memory)
    return memory, swap


def find_wslconfig(ctx: FixContext) -> tuple[Path | None, str | None]:
    """(path, None) or (None, why not): `--wslconfig`, else /mnt/c/Users/<the one Windows user>/.wslconfig."""
    if ctx.wslconfig is not None:
        return ctx.wslconfig, None
    users_dir = ctx.at("/mnt/c/Users")
    try:
        users = sorted(p for p in users_dir.iterdir() if p.is_dir() and p.name.lower() not in NOT_USERS)
    except OSError:
        return None, "no /mnt/c/Users here (is C: mounted?); pass --wslconfig PATH"
    with_file = [u for u in users if (u / ".wslconfig").exists()]
    login = (os.environ.get("USER") or "").lower()
    for group in (with_file, users):
        same = [u for u in group if u.name.lower() == login]
        if len(same) == 1:
            return same[0] / ".wslconfig", None
        if len(group) == 1:
            return group[0] / ".wslconfig", None
    if not users:
        return None, "no Windows user folder under /mnt/c/Users; pass --wslconfig PATH"
    names = ", ".join(u.name for u in (with_file or users))
    return None, f"several Windows users ({names}); pass --wslconfig /mnt/c/Users/NAME/.wslconfig"


def plan(ctx: FixContext) -> Plan:
    if ctx.platform != "wsl2" and ctx.wslconfig is None:
        return Plan(FIX_ID, TITLE, blocked=f"this is {ctx.platform}, not WSL2 (pass --wslconfig to edit one anyway)")
    path, why = find_wslconfig(ctx)
    if path is None:
        return Plan(FIX_ID, TITLE, blocked=why)
    current = wslconfig.read(path)  # the reader the mem.wsl_limit check uses
    doc = current.doc
    have_memory, have_swap = current.size("memory"), current.size("swap")
    if not ctx.windows_ram:
        # Once memory= is set, the VM's size no longer tells the host's: judge by what the run needs.
        need = ctx.ram_need or NEED_GIB * GIB
        if have_memory is not None and have_memory >= need:
            return Plan(FIX_ID, TITLE, done_reason=(
                f"{path} gives WSL2 memory={current.value('memory')}, enough for this run ({need / GIB:.1f} GiB); "
                "pass --ram SIZE to size it to the host instead"))
        return Plan(FIX_ID, TITLE, blocked="the Windows host's RAM is unknown; pass --ram SIZE (e.g. --ram 32GB)")
    memory, swap = sizing(ctx.windows_ram)
    changes = []
    if have_memory is None or have_memory < memory * GIB:
        doc.set("wsl2", "memory", f"{memory}GB")
        changes.append(f"memory={memory}GB")
    if have_swap is None or have_swap < swap * GIB:
        doc.set("wsl2", "swap", f"{swap}GB")
        changes.append(f"swap={swap}GB")
    rule = (
        f"sizing: host RAM {ctx.windows_ram / GIB:.0f} GiB -> memory = min(RAM - {WINDOWS_RESERVE_GIB}, max({NEED_GIB}, 3/4 RAM))"
        f" = {memory}GB, swap = max({MIN_SWAP_GIB}, {NEED_GIB} + 4 - memory) = {swap}GB; higher values already set are kept"
    )
    if not changes:
        return Plan(FIX_ID, TITLE, done_reason=f"{path} already has [wsl2] memory >= {memory}GB and swap >= {swap}GB", notes=(rule,))
    step = edit(path, doc.text(), f"set {' and '.join(changes)} in [wsl2] of {path}", needs_restart=True)
    wsl_exe = ctx.which("wsl.exe")
    shutdown_note = "WSL reads .wslconfig at start: run `wsl.exe --shutdown` from Windows (PowerShell), then reopen the distro"
    followups = ()
    if wsl_exe:
        followups = (
            CommandStep((wsl_exe, "--shutdown"), "restart WSL now so the new limits apply (ends every WSL session, this one too)", needs_restart=True),
        )
    return Plan(FIX_ID, TITLE, steps=(step,), notes=(rule, shutdown_note), followups=followups)

"""mem.* and disk.*: enough RAM for the model on this device, WSL2's cap, free disk space."""

from __future__ import annotations

from doctor.assets import assets
from doctor.checks.registry import check
from doctor.facts import Facts
from doctor.findings import Finding, Status
from doctor.units import gib


def plan(facts: Facts) -> tuple[str, str, int]:
    """(device, model variant, RAM it needs) for the run this machine would make."""
    device = "gpu" if facts.gpu.driver_works else "cpu"
    variant = "full" if facts.models.weight("cfm_full").ok and not facts.models.weight("cfm").ok else "base"
    return device, variant, assets()["ram_bytes"][device][variant]


@check("mem.ram", "memory", "gpu", "models")
def ram(facts: Facts) -> Finding:
    m = facts.memory
    device, variant, need = plan(facts)
    if m.ram_total is None:
        return Finding("mem.ram", Status.SKIP, "RAM size unknown (/proc/meminfo unreadable)")
    seen = (f"RAM {gib(m.ram_total)} ({gib(m.ram_available)} available), swap {gib(m.swap_total)}; "
            f"the {variant} model on the {device.upper()} needs about {gib(need)}")
    if m.ram_total + (m.swap_total or 0) < need:
        return Finding(
            "mem.ram", Status.FAIL, seen,
            "The process would be killed by the kernel's out-of-memory killer while loading. Add RAM or swap"
            + (", or raise WSL2's limit (mem.wsl_limit)" if facts.platform and facts.platform.kind == "wsl2" else "") + ".",
            fix="wsl.memory" if facts.platform and facts.platform.kind == "wsl2" else None,
        )
    if m.ram_total < need or (m.ram_available or 0) < need:
        return Finding(
            "mem.ram", Status.WARN, seen,
            "It fits only with swap or after closing other programs: expect heavy swapping and a much slower run.",
        )
    return Finding("mem.ram", Status.OK, seen)


@check("mem.wsl_limit", "memory", "platform", "gpu", "models")
def wsl_limit(facts: Facts) -> Finding:
    if facts.platform.kind != "wsl2":
        return Finding("mem.wsl_limit", Status.SKIP, "not WSL2")
    _, _, need = plan(facts)
    unreadable = [c for c in facts.memory.wslconfigs if c.error]
    if unreadable:
        return Finding(
            "mem.wsl_limit", Status.WARN, f"{unreadable[0].path} cannot be read, so its memory limit is unknown",
            f"{unreadable[0].error}. WSL may not read it either.",
        )
    limits = [c for c in facts.memory.wslconfigs if c.memory]
    if limits:
        low = [c for c in limits if c.memory < need]
        if not low:
            return Finding("mem.wsl_limit", Status.OK, "; ".join(f"{c.path}: memory={gib(c.memory)}" for c in limits))
        c = low[0]
        windows_path = "C:" + c.path.removeprefix("/mnt/c").replace("/", "\\")
        return Finding(
            "mem.wsl_limit", Status.WARN, f"{c.path} caps WSL2 at memory={gib(c.memory)}, below the {gib(need)} needed",
            f"Raise [wsl2] memory= in {windows_path} (e.g. memory=16GB), then run `wsl --shutdown` in PowerShell.",
            fix="wsl.memory",
        )
    total = facts.memory.ram_total
    if total is not None and total < need:
        return Finding(
            "mem.wsl_limit", Status.WARN, f"WSL2 sees {gib(total)} (no memory= in a .wslconfig: the default is half of Windows' RAM)",
            f"The run needs about {gib(need)}. Set [wsl2] memory= in C:\\Users\\<you>\\.wslconfig, then `wsl --shutdown`.",
            fix="wsl.memory",
        )
    return Finding("mem.wsl_limit", Status.OK, f"WSL2 sees {gib(total)}; no .wslconfig memory limit found")


@check("disk.free", "checkout", "models")
def disk_free(facts: Facts) -> Finding:
    c = facts.checkout
    if c.path is None or c.free_bytes is None:
        return Finding("disk.free", Status.SKIP, "no checkout, so no output folder to measure")
    floor = assets()["free_disk_floor_bytes"]
    missing = sum(w["min_bytes"] for w in assets()["weights"] if w["id"] != "cfm_full" and not facts.models.weight(w["id"]).ok)
    seen = f"{gib(c.free_bytes)} free on the disk of {c.path}"
    if c.free_bytes < floor:
        return Finding("disk.free", Status.FAIL, seen, f"A run needs at least {gib(floor)} for its run folder. Free some space.")
    if c.free_bytes < floor + missing:
        return Finding("disk.free", Status.WARN, seen,
                       f"The missing weights need at least {gib(missing)} more to download, plus {gib(floor)} for runs.")
    return Finding("disk.free", Status.OK, seen)

"""platform.*: which Linux this is, and whether the models sit on a slow Windows drive."""

from __future__ import annotations

from doctor.checks.registry import check
from doctor.facts import Facts
from doctor.findings import Finding, Status


@check("platform.wsl", "platform")
def wsl(facts: Facts) -> Finding:
    p = facts.platform
    where = ", ".join(x for x in (p.distro, f"kernel {p.kernel}" if p.kernel else None) if x)
    inside = f"; inside a {p.container} container" if p.container else ""
    cpu = f"{p.cpu_model or 'unknown CPU'}, {p.cpu_count} cores" + (f", {' '.join(p.cpu_flags)}" if p.cpu_flags else "")
    if p.kind == "wsl1":
        return Finding(
            "platform.wsl", Status.FAIL, f"WSL1 ({where})",
            "WSL1 has no GPU access and runs Linux programs through a slow translation layer. In Windows "
            f"PowerShell run `wsl --set-version {p.wsl_distro_name or '<distro>'} 2`, then run this check again.",
        )
    name = "WSL2" if p.kind == "wsl2" else "native Linux"
    return Finding("platform.wsl", Status.OK, f"{name} ({where}){inside}", cpu)


@check("platform.drvfs_models", "platform", "checkout", "models")
def drvfs_models(facts: Facts) -> Finding:
    p = facts.platform
    paths = [facts.checkout.path] if facts.checkout.path else []
    paths += [w.best.path for w in facts.models.weights if w.best]
    if not paths:
        return Finding("platform.drvfs_models", Status.SKIP, "no checkout or model files found to place")
    slow = [(path, p.windows_mount_of(path)) for path in paths]
    slow = [(path, mount) for path, mount in slow if mount]
    if not slow:
        return Finding("platform.drvfs_models", Status.OK, "the checkout and the models are on a Linux filesystem")
    listed = "; ".join(f"{path} ({mount.fstype} mount {mount.point})" for path, mount in slow)
    return Finding(
        "platform.drvfs_models", Status.WARN, f"{len(slow)} path(s) on a Windows drive: {listed}",
        "Reading multi-GB weights through WSL's Windows-drive mount is many times slower than the Linux "
        "filesystem. Move the checkout and weights under your Linux home (e.g. ~/DiffRhythm) and point "
        "drdoctor at them.",
        fix="models.paths",
    )

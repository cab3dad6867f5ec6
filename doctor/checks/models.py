"""models.*: the checkout, its weights (complete or not), and the data files inside the checkout."""

from __future__ import annotations

from pathlib import PurePosixPath

from doctor.assets import role as family_role
from doctor.checks.registry import check
from doctor.facts import Facts
from doctor.findings import Finding, Status
from doctor.probes.files import FileState
from doctor.probes.models import CopyFacts, WeightFacts
from doctor.units import gib
from runner.checkout_import import restore_remedy
from runner.family import hf_download_command

ELSEWHERE = " (or point drdoctor at a good copy with --models / [models] in the config)"


def describe_file(f: FileState) -> str:
    return f"{f.path} ({gib(f.size)})" if f.ok else f"{f.path}: {f.problem}"


def describe(copy: CopyFacts) -> str:
    if copy.ok:
        return f"{copy.path} ({gib(copy.size)})"
    return "; ".join(describe_file(f) for f in copy.broken)


def download_hint(w: WeightFacts, copy: CopyFacts | None = None) -> str:
    """`hf download REPO FILES...` for every file of the role: into the cache of the broken copy (forced,
    since a damaged blob under a good link is otherwise kept), or of an interrupted download (continued
    there), else into the hub cache, which is searched."""
    role = family_role(w.id)
    if copy is not None:
        command = hf_download_command(role, copy.cache, force=copy.cache is not None)
    else:
        partial_cache = str(PurePosixPath(w.incomplete[0]).parents[2]) if w.incomplete else None  # …/models--X/blobs/f
        command = hf_download_command(role, partial_cache)
    return f"`{command}`{ELSEWHERE}"


def weight_finding(check_id: str, w: WeightFacts, facts: Facts, say_where: bool = True) -> Finding:
    label = family_role(w.id).label
    # beside a good copy, an incomplete one (files absent, none damaged) is no hazard: nothing would load it
    broken = [c for c in w.copies if not c.ok and (not w.ok or any(f.state != "missing" for f in c.broken))]
    partial = f"; {len(w.incomplete)} interrupted download(s): {', '.join(w.incomplete)}" if w.incomplete else ""
    if w.ok:
        extra = "; broken copies: " + "; ".join(describe(c) for c in broken) if broken else ""
        status = Status.WARN if broken or w.incomplete else Status.OK
        detail = ("Upstream's scripts may pick the broken copy; drdoctor uses the good one. Remove the broken files."
                  if status is Status.WARN else "")
        return Finding(check_id, status, f"{label}: {describe(w.best)}{extra}{partial}", detail,
                       fix="models.paths" if status is Status.WARN else None)
    if not w.copies:
        searched = ", ".join(dict.fromkeys(facts.models.plain_dirs + facts.models.hf_caches))
        where = f"Looked in {searched}. " if say_where else ""
        return Finding(check_id, Status.FAIL, f"{label}: not found{partial}",
                       f"{where}Download it: {download_hint(w)}", fix="models.paths")
    return Finding(check_id, Status.FAIL, f"{label}: " + "; ".join(describe(c) for c in broken) + partial,
                   f"Loading it fails or, worse, gives garbage. Download it again: {download_hint(w, broken[0])}",
                   fix="models.paths")


@check("models.checkout", "checkout")
def checkout(facts: Facts) -> Finding:
    c = facts.checkout
    if c.path:
        return Finding("models.checkout", Status.OK, f"DiffRhythm checkout at {c.path} (from {c.source})")
    return Finding(
        "models.checkout", Status.FAIL, "no DiffRhythm checkout found",
        f"Looked in: {', '.join(c.tried)}. Run `drdoctor install` (it clones the pinned commit), or clone "
        "https://github.com/ASLP-lab/DiffRhythm and pass --diffrhythm DIR, set DIFFRHYTHM_ROOT, or set "
        "[diffrhythm] root in drdoctor's config.",
    )


@check("models.cfm", "models", "checkout")
def cfm(facts: Facts) -> Finding:
    base, full = facts.models.weight("cfm"), facts.models.weight("cfm_full")
    if base.ok or full.ok:
        finding = weight_finding("models.cfm", base if base.ok else full, facts)
        usable = [name for name, w in (("base (up to 95 s)", base), ("full (96-285 s)", full)) if w.ok]
        other = full if base.ok else base
        note = f" Not usable: {family_role(other.id).label}." if not other.ok else ""
        return Finding(finding.id, finding.status, f"usable: {', '.join(usable)}. " + finding.title,
                       (finding.detail + note).strip(), finding.fix)
    return weight_finding("models.cfm", base, facts)


@check("models.vae", "models", "checkout")
def vae(facts: Facts) -> Finding:
    return weight_finding("models.vae", facts.models.weight("vae"), facts)


@check("models.muq", "models", "checkout")
def muq(facts: Facts) -> Finding:
    """MuQ-MuLan and the two models it builds itself (its audio model, xlm-roberta-base): one finding."""
    findings = [weight_finding("models.muq", facts.models.weight(r), facts, say_where=i == 0)
                for i, r in enumerate(("muq", "muq_audio", "xlmr"))]
    order = ["ok", "info", "skip", "warn", "fail"]
    worst = max(findings, key=lambda f: order.index(f.status.value))
    details = [f.detail for f in findings if f.detail]
    detail = "; ".join(d.replace(ELSEWHERE, "") for d in details) + (ELSEWHERE if any(ELSEWHERE in d for d in details) else "")
    return Finding("models.muq", worst.status, " | ".join(f.title for f in findings), detail, worst.fix)


@check("models.assets", "checkout")
def checkout_assets(facts: Facts) -> Finding:
    c = facts.checkout
    if c.path is None:
        return Finding("models.assets", Status.SKIP, "no checkout")
    broken = [f for f in c.files if not f.ok]
    if not broken:
        return Finding("models.assets", Status.OK, f"all {len(c.files)} data files inference reads are in the checkout")
    rels = [str(PurePosixPath(f.path).relative_to(c.path)) for f in broken]
    remedy = restore_remedy(PurePosixPath(c.path), rels, is_git=c.git)  # the runner's own: upstream has no git-lfs
    return Finding(
        "models.assets", Status.FAIL, f"{len(broken)} checkout file(s) broken: " + "; ".join(describe_file(f) for f in broken),
        "The lyrics g2p or the model code fails at import (FileNotFoundError or a parse error). "
        + remedy[0].upper() + remedy[1:] + ".",
    )


@check("models.integrity", "integrity")
def integrity(facts: Facts) -> Finding:
    checks = facts.integrity
    if not checks:
        return Finding("models.integrity", Status.SKIP, "no Hugging Face blobs to hash" if checks == () else "run with --deep to hash the weights")
    bad = [c for c in checks if not c.ok]
    if not bad:
        return Finding("models.integrity", Status.OK, f"{len(checks)} blob(s) match their SHA-256 names")
    return Finding(
        "models.integrity", Status.FAIL,
        f"{len(bad)} blob(s) do not match their SHA-256 names: " + "; ".join(c.path for c in bad),
        "The bytes are not what was published (truncated, overwritten or swapped). Delete these blobs and download again.",
        fix="models.paths",
    )

"""models.*: the checkout, its weights (complete or not), and the data files inside the checkout."""

from __future__ import annotations

from doctor.assets import weight as weight_data
from doctor.checks.registry import check
from doctor.facts import Facts
from doctor.findings import Finding, Status
from doctor.probes.files import FileState
from doctor.probes.models import WeightFacts
from doctor.units import gib

STATE_TEXT = {
    "missing": "missing",
    "dangling": "a link to a blob that does not exist",
    "empty": "empty (0 bytes)",
    "lfs_pointer": "a git-lfs pointer file, not the weights (cloned without git-lfs)",
    "too_small": "smaller than any complete copy (truncated)",
}


def describe(copy: FileState) -> str:
    if copy.ok:
        return f"{copy.path} ({gib(copy.size)})"
    size = f", {gib(copy.size)}" if copy.size is not None and copy.state == "too_small" else ""
    return f"{copy.path}: {STATE_TEXT[copy.state]}{size}"


def _download_hint(w: WeightFacts, facts: Facts) -> str:
    data = weight_data(w.id)
    target = f"{facts.checkout.path}/pretrained" if facts.checkout and facts.checkout.path else "<checkout>/pretrained"
    return (f"`huggingface-cli download {data['repo']} {data['files'][0]} --cache-dir {target}` "
            "(or point drdoctor at a good copy with --models / [models] in the config)")


def weight_finding(check_id: str, w: WeightFacts, facts: Facts, say_where: bool = True) -> Finding:
    label = weight_data(w.id)["label"]
    broken = [c for c in w.copies if not c.ok]
    partial = f"; {len(w.incomplete)} interrupted download(s): {', '.join(w.incomplete)}" if w.incomplete else ""
    if w.ok:
        extra = "; broken copies: " + "; ".join(describe(c) for c in broken) if broken else ""
        status = Status.WARN if broken or w.incomplete else Status.OK
        detail = ("Upstream's scripts may pick the broken copy; drdoctor uses the good one. Remove the broken files."
                  if status is Status.WARN else "")
        return Finding(check_id, status, f"{label}: {describe(w.best)}{extra}{partial}", detail,
                       fix="models.paths" if status is Status.WARN else None)
    if not w.copies:
        searched = ", ".join(dict.fromkeys(facts.models.hf_caches + facts.models.plain_dirs))
        where = f"Looked in {searched}. " if say_where else ""
        return Finding(check_id, Status.FAIL, f"{label}: not found{partial}",
                       f"{where}Download it: {_download_hint(w, facts)}", fix="models.paths")
    return Finding(check_id, Status.FAIL, f"{label}: " + "; ".join(describe(c) for c in broken) + partial,
                   f"Loading it fails or, worse, gives garbage. Download it again: {_download_hint(w, facts)}", fix="models.paths")


@check("models.checkout", "checkout")
def checkout(facts: Facts) -> Finding:
    c = facts.checkout
    if c.path:
        return Finding("models.checkout", Status.OK, f"DiffRhythm checkout at {c.path} (from {c.source})")
    return Finding(
        "models.checkout", Status.FAIL, "no DiffRhythm checkout found",
        f"Looked in: {', '.join(c.tried)}. Clone https://github.com/ASLP-lab/DiffRhythm and pass --diffrhythm DIR, "
        "set DIFFRHYTHM_ROOT, or set [diffrhythm] root in drdoctor's config.",
    )


@check("models.cfm", "models", "checkout")
def cfm(facts: Facts) -> Finding:
    base, full = facts.models.weight("cfm"), facts.models.weight("cfm_full")
    if base.ok or full.ok:
        finding = weight_finding("models.cfm", base if base.ok else full, facts)
        usable = [name for name, w in (("base (up to 95 s)", base), ("full (96-285 s)", full)) if w.ok]
        other = full if base.ok else base
        note = f" Not usable: {weight_data(other.id)['label']}." if not other.ok else ""
        return Finding(finding.id, finding.status, f"usable: {', '.join(usable)}. " + finding.title,
                       (finding.detail + note).strip(), finding.fix)
    return weight_finding("models.cfm", base, facts)


@check("models.vae", "models", "checkout")
def vae(facts: Facts) -> Finding:
    return weight_finding("models.vae", facts.models.weight("vae"), facts)


@check("models.muq", "models", "checkout")
def muq(facts: Facts) -> Finding:
    muq_finding = weight_finding("models.muq", facts.models.weight("muq"), facts)
    text_finding = weight_finding("models.muq", facts.models.weight("xlmr"), facts, say_where=False)
    worst = max((muq_finding, text_finding), key=lambda f: ["ok", "info", "skip", "warn", "fail"].index(f.status.value))
    return Finding("models.muq", worst.status, f"{muq_finding.title} | {text_finding.title}",
                   " ".join(x for x in (muq_finding.detail, text_finding.detail) if x), worst.fix)


@check("models.assets", "checkout")
def checkout_assets(facts: Facts) -> Finding:
    c = facts.checkout
    if c.path is None:
        return Finding("models.assets", Status.SKIP, "no checkout")
    broken = [f for f in c.files if not f.ok]
    if not broken:
        return Finding("models.assets", Status.OK, f"all {len(c.files)} data files inference reads are in the checkout")
    lfs = any(f.state == "lfs_pointer" for f in broken)
    return Finding(
        "models.assets", Status.FAIL, f"{len(broken)} checkout file(s) broken: " + "; ".join(describe(f) for f in broken),
        "The lyrics g2p or the model code fails at import (FileNotFoundError or a parse error). "
        + ("Run `git lfs install && git lfs pull` in the checkout." if lfs else
           "The checkout is a partial copy: clone it again with git (large files included) or copy these files over."),
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

"""sys.espeak and hf.offline: what the checkout's g2p and downloads need from the system."""

from __future__ import annotations

from doctor.assets import assets
from doctor.checks.registry import check
from doctor.facts import Facts
from doctor.findings import Finding, Status
from doctor.probes.tools import EspeakFacts


def espeak_problem(e: EspeakFacts) -> tuple[str, str] | None:
    """(what is wrong, what to do) with espeak-ng for the lyrics g2p, or None when it works; the sys.espeak check
    and the espeak.install fix both ask this."""
    install = "Install it: `sudo apt-get install espeak-ng` (it brings the library and all voices)."
    if e.binary is None:
        return ("espeak-ng is not on PATH",
                "The lyrics g2p builds espeak-ng phonemizers when it is imported and stops without them. " + install)
    if e.voices_error:
        return f"espeak-ng at {e.binary} does not run", e.voices_error + ". " + install
    missing = [v for v in assets()["espeak_voices"] if v not in e.voices]
    if missing:
        return (f"espeak-ng lacks the voice(s) {', '.join(missing)}",
                f"Needed because {assets()['espeak_voices_why']}. " + install)
    if e.voices_broken:
        listed = "; ".join(f"{voice}: {why}" for voice, why in e.voices_broken)
        return (f"espeak-ng lists the voice(s) {', '.join(v for v, _ in e.voices_broken)} but cannot phonemize with them",
                (f"{listed}. Their data files are missing or damaged; reinstall them "
                 "(Debian/Ubuntu: `sudo apt-get install --reinstall espeak-ng-data`)."))
    if e.library_env and not e.library_env_exists:
        return (f"PHONEMIZER_ESPEAK_LIBRARY={e.library_env} does not exist",
                "phonemizer loads the library from that path. Unset it or point it at libespeak-ng.so.1"
                + (f" (found at {e.library})." if e.library else "."))
    if e.library is None and not e.library_env:
        return ("libespeak-ng.so is not in the usual library folders",
                "phonemizer needs the shared library, not only the program. " + install
                + " Or set PHONEMIZER_ESPEAK_LIBRARY to its path.")
    return None


@check("sys.espeak", "espeak")
def espeak(facts: Facts) -> Finding:
    e = facts.espeak
    if problem := espeak_problem(e):
        return Finding("sys.espeak", Status.FAIL, problem[0], problem[1], fix="espeak.install")
    library = e.library_env or e.library
    return Finding("sys.espeak", Status.OK, f"espeak-ng {e.binary} with {', '.join(assets()['espeak_voices'])} "
                   f"(each phonemizes a word); library {library}")


@check("hf.offline", "hub", "models")
def hf_offline(facts: Facts) -> Finding:
    h = facts.hub
    complete = facts.models.complete
    setting = f"HF_HUB_OFFLINE={h.env_offline}" if h.env_offline is not None else (
        f"config [run] hf_hub_offline = {str(h.config_offline).lower()}" if h.config_offline is not None else "HF_HUB_OFFLINE not set")
    if h.explicit and h.offline:
        if complete:
            return Finding("hf.offline", Status.OK, f"{setting}: the weights load from the local cache")
        return Finding("hf.offline", Status.WARN, f"{setting}, but some weights are missing",
                       "Nothing will be downloaded while offline; download the missing weights first (models.* checks).")
    if complete:
        return Finding("hf.offline", Status.WARN, f"{setting}: every run asks the Hugging Face Hub first",
                       "Upstream's hf_hub_download looks up each file online even when the cache is complete; offline or "
                       "behind a proxy that fails (drdoctor's own runs are offline unless told otherwise). Set HF_HUB_OFFLINE=1, "
                       "or let `drdoctor fix hf.offline` record it in drdoctor's config.",
                       fix="hf.offline")
    return Finding("hf.offline", Status.INFO, f"{setting}: missing weights can still be downloaded")

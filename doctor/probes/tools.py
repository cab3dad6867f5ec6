"""System tools the checkout's lyrics g2p needs: espeak-ng, its voices, its shared library.

A voice `espeak-ng --voices` lists can still lack its data (a deleted or half-installed `ko_dict`): espeak-ng
then prints nothing for it and says so on stderr, with exit status 0. So each needed voice phonemizes one word,
all of them at once (about 30 ms in all; tests/bench/bench_espeak_probe.py measures it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from doctor.assets import assets
from doctor.probes._fs import at, seen
from doctor.probes._run import run

VOICES_TIMEOUT = 10.0
PHONEMIZE_TIMEOUT = 10.0
TEST_WORD = "hello"


@dataclass(frozen=True)
class EspeakFacts:
    binary: str | None  # espeak-ng found on PATH (as the machine sees it)
    voices: tuple[str, ...]  # language codes `espeak-ng --voices` lists
    voices_error: str | None  # why the voice list could not be read
    voices_broken: tuple[tuple[str, str], ...]  # (voice, why) for needed, listed voices that phonemize nothing
    library: str | None  # libespeak-ng shared library phonemizer can load
    library_env: str | None  # PHONEMIZER_ESPEAK_LIBRARY, when set
    library_env_exists: bool


def _which(root: Path, name: str, env: Mapping[str, str]) -> Path | None:
    for folder in env.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep):
        candidate = at(root, folder) / name if folder.startswith("/") else None
        if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _voices(binary: Path, env: Mapping[str, str]) -> tuple[tuple[str, ...], str | None]:
    done = run([str(binary), "--voices"], timeout=VOICES_TIMEOUT, env=env)
    if done is None or done.returncode != 0:
        return (), f"`{binary} --voices` failed" + ("" if done is None else f": {done.stderr.strip()[:200]}")
    lines = done.stdout.splitlines()[1:]  # the first line is the column header
    return tuple(line.split()[1] for line in lines if len(line.split()) > 1), None


def _phonemizes(binary: Path, voice: str, env: Mapping[str, str]) -> str | None:
    """None when `voice` turns TEST_WORD into phonemes; else what went wrong."""
    done = run([str(binary), "-q", "-x", "-v", voice, TEST_WORD], timeout=PHONEMIZE_TIMEOUT, env=env)
    if done is None:
        return f"`espeak-ng -v {voice}` did not finish within {PHONEMIZE_TIMEOUT:.0f} s"
    said = " ".join(done.stderr.split())[:200]
    if done.returncode != 0 or not done.stdout.strip() or said:
        return said or f"`espeak-ng -q -x -v {voice} {TEST_WORD}` printed no phonemes (exit status {done.returncode})"
    return None


def _broken_voices(binary: Path, listed: tuple[str, ...], env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    needed = [v for v in assets()["espeak_voices"] if v in listed]
    if not needed:
        return ()
    with ThreadPoolExecutor(max_workers=len(needed), thread_name_prefix="espeak") as pool:
        problems = list(pool.map(lambda voice: _phonemizes(binary, voice, env), needed))
    return tuple((voice, why) for voice, why in zip(needed, problems) if why)


def _library(root: Path) -> Path | None:
    for folder in assets()["espeak_library_dirs"]:
        try:
            found = sorted(at(root, folder).glob("libespeak-ng.so*"))
        except OSError:
            continue
        if found:
            return found[0]
    return None


def probe_espeak(root: Path, env: Mapping[str, str]) -> EspeakFacts:
    binary = _which(root, "espeak-ng", env)
    voices, error = _voices(binary, env) if binary else ((), None)
    broken = _broken_voices(binary, voices, env) if binary and not error else ()
    library = _library(root)
    library_env = env.get("PHONEMIZER_ESPEAK_LIBRARY") or None
    return EspeakFacts(
        binary=seen(root, binary) if binary else None,
        voices=voices,
        voices_error=error,
        voices_broken=broken,
        library=seen(root, library) if library else None,
        library_env=library_env,
        library_env_exists=bool(library_env) and at(root, library_env).is_file(),
    )

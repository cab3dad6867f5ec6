"""System tools the checkout's lyrics g2p needs: espeak-ng, its voices, its shared library."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from doctor.assets import assets
from doctor.probes._fs import at, seen
from doctor.probes._run import run

VOICES_TIMEOUT = 10.0


@dataclass(frozen=True)
class EspeakFacts:
    binary: str | None  # espeak-ng found on PATH (as the machine sees it)
    voices: tuple[str, ...]  # language codes `espeak-ng --voices` lists
    voices_error: str | None  # why the voice list could not be read
    library: str | None  # libespeak-ng shared library phonemizer can load
    library_env: str | None  # PHONEMIZER_ESPEAK_LIBRARY, when set
    library_env_exists: bool


def _which(root: Path, name: str, env: Mapping[str, str]) -> Path | None:
    for folder in env.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep):
        candidate = at(root, folder) / name if folder.startswith("/") else None
        if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _voices(binary: Path) -> tuple[tuple[str, ...], str | None]:
    done = run([str(binary), "--voices"], timeout=VOICES_TIMEOUT)
    if done is None or done.returncode != 0:
        return (), f"`{binary} --voices` failed" + ("" if done is None else f": {done.stderr.strip()[:200]}")
    lines = done.stdout.splitlines()[1:]  # the first line is the column header
    return tuple(line.split()[1] for line in lines if len(line.split()) > 1), None


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
    voices, error = _voices(binary) if binary else ((), None)
    library = _library(root)
    library_env = env.get("PHONEMIZER_ESPEAK_LIBRARY") or None
    return EspeakFacts(
        binary=seen(root, binary) if binary else None,
        voices=voices,
        voices_error=error,
        library=seen(root, library) if library else None,
        library_env=library_env,
        library_env_exists=bool(library_env) and at(root, library_env).is_file(),
    )

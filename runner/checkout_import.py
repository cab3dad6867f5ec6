"""Importing a DiffRhythm checkout's code without its side effects.

- `model/__init__.py` imports the training code (wandb, accelerate, datasets): it is never run; a bare
  `model` package whose `__path__` is the checkout's `model/` lets `model.cfm` and `model.dit` import.
- `model/modules.py` imports torchaudio at import time, for training only; torch >= 2.12 has no
  torchaudio, so a placeholder module stands in when the real one cannot be imported.
- the g2p reads files relative to the CURRENT DIRECTORY at import and builds espeak-ng backends: it is
  imported with the checkout as the current directory (and on sys.path), both restored after, and
  its failures become EnvironmentProblem with the remedy.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.util
import os
import shlex
import sys
import types
from pathlib import Path
from typing import Callable, Iterator

from runner.errors import EnvironmentProblem
from runner.package_rules import package_rule

UPSTREAM_GIT = "https://github.com/ASLP-lab/DiffRhythm"
# Files of the checkout's g2p over 4 MiB that a partial copy lacks. Upstream has no git-lfs (no
# .gitattributes): they are ordinary blobs of its history, so git itself restores them.
G2P_LARGE_FILES = (
    "g2p/sources/chinese_lexicon.txt",
    "g2p/sources/g2p_chinese_model/poly_bert_model.onnx",
)
# import name -> what to pip install
PIP_NAMES = {
    "transformers": package_rule("transformers").requirement,
    "x_transformers": "x-transformers",
    "torchdiffeq": "torchdiffeq",
    "einops": "einops",
    "phonemizer": "phonemizer",
    "jieba": "jieba",
    "pypinyin": "pypinyin",
    "cn2an": "cn2an",
    "onnxruntime": "onnxruntime",
    "tokenizers": "tokenizers",
    "inflect": "inflect",
    "unidecode": "unidecode",
    "LangSegment": "LangSegment",
    "py3langid": "py3langid",
    "jamo": "jamo",
    "ko_pron": "ko_pron",
    "g2pk2": "g2pk2",
}
ESPEAK_REMEDY = (
    "install espeak-ng with its voices (Debian/Ubuntu: `sudo apt-get install espeak-ng`); when the library is "
    "not on the default path, set PHONEMIZER_ESPEAK_LIBRARY=/usr/lib/x86_64-linux-gnu/libespeak-ng.so.1"
)
TORCHAUDIO_PLACEHOLDER = "__drdoctor_placeholder__"


def _purge(names: tuple[str, ...]) -> dict[str, types.ModuleType]:
    """Remove `names` and their submodules from sys.modules (another checkout's, or a stale import)."""
    gone = {}
    for key in list(sys.modules):
        if any(key == n or key.startswith(n + ".") for n in names):
            gone[key] = sys.modules.pop(key)
    return gone


@contextlib.contextmanager
def in_checkout(root: Path) -> Iterator[None]:
    """The checkout as current directory and first on sys.path; both restored after."""
    before_cwd = os.getcwd()
    entry = str(root)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(before_cwd)
        if added and entry in sys.path:
            sys.path.remove(entry)


def _missing_package(exc: ModuleNotFoundError, what: str, root: Path) -> EnvironmentProblem:
    name = (exc.name or "").split(".")[0]
    pip = PIP_NAMES.get(name, name)
    if name and not (root / name).exists():
        return EnvironmentProblem(
            f"{what} needs the Python package {name!r}, which is not installed in {sys.executable}",
            f"`{sys.executable} -m pip install {pip}` (or pip install -r {root / 'requirements.txt'})",
        )
    return EnvironmentProblem(
        f"{what} failed to import: {exc}", f"check that {root} is a complete DiffRhythm checkout"
    )


def torchaudio_placeholder() -> types.ModuleType:
    module = types.ModuleType("torchaudio", "drdoctor placeholder: inference does not use torchaudio")
    # a spec, because importlib.util.find_spec("torchaudio") raises ValueError for a module without one
    module.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
    setattr(module, TORCHAUDIO_PLACEHOLDER, True)

    def __getattr__(name: str):  # noqa: N807 - module-level __getattr__
        if name.startswith("__"):
            raise AttributeError(name)
        raise RuntimeError(
            f"torchaudio.{name} was used, but torchaudio is not installed (drdoctor put a placeholder in its "
            "place: inference does not need it)"
        )

    module.__getattr__ = __getattr__  # type: ignore[attr-defined]
    return module


def _torchaudio_problem() -> str | None:
    """None when torchaudio imports; otherwise why not."""
    if "torchaudio" in sys.modules and not getattr(sys.modules["torchaudio"], TORCHAUDIO_PLACEHOLDER, False):
        return None
    try:
        importlib.import_module("torchaudio")
        return None
    except Exception as exc:  # ImportError, or OSError/RuntimeError from a build for another torch
        sys.modules.pop("torchaudio", None)
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


def import_model_code(root: Path, emit_warning: Callable[[str], None]) -> tuple[type, type]:
    """(CFM, DiT) classes from the checkout at `root`, without running its model/__init__.py."""
    model_dir = root / "model"
    for name in ("cfm.py", "dit.py"):
        if not (model_dir / name).is_file():
            raise EnvironmentProblem(
                f"{root} is not a DiffRhythm checkout: {model_dir / name} is missing",
                "point --diffrhythm (or [diffrhythm] root) at the folder of `git clone https://github.com/ASLP-lab/DiffRhythm`",
            )
    _purge(("model",))
    importlib.invalidate_caches()
    spec = importlib.machinery.ModuleSpec("model", None, is_package=True)
    spec.submodule_search_locations = [str(model_dir)]
    package = importlib.util.module_from_spec(spec)
    package.__path__ = [str(model_dir)]  # type: ignore[attr-defined]
    package.__file__ = None
    sys.modules["model"] = package

    placeholder = None
    problem = _torchaudio_problem()
    if problem is not None:
        # transformers records at its import whether torchaudio exists: let it see the truth first
        try:
            importlib.import_module("transformers")
        except Exception:  # noqa: BLE001 - the checkout's own import below reports a broken transformers
            pass
        placeholder = torchaudio_placeholder()
        sys.modules["torchaudio"] = placeholder
        emit_warning(
            f"torchaudio cannot be imported ({problem}); the checkout's model/modules.py imports it for "
            "training only, so a placeholder stands in (torch 2.12 and newer have no torchaudio)"
        )
    try:
        with in_checkout(root):
            cfm = importlib.import_module("model.cfm")
            dit = importlib.import_module("model.dit")
    except ModuleNotFoundError as exc:
        _purge(("model",))
        raise _missing_package(exc, "the checkout's model code", root) from exc
    except ImportError as exc:
        _purge(("model",))
        raise EnvironmentProblem(
            f"the checkout's model code failed to import: {exc}",
            f"install the versions DiffRhythm needs: `pip install {package_rule('transformers').requirement} "
            "x-transformers torchdiffeq einops`",
        ) from exc
    finally:
        if placeholder is not None and sys.modules.get("torchaudio") is placeholder:
            del sys.modules["torchaudio"]  # the checkout's modules keep their reference
    try:
        return cfm.CFM, dit.DiT
    except AttributeError as exc:
        raise EnvironmentProblem(
            f"{model_dir} has no {exc.name}: not a DiffRhythm checkout this runner knows",
            "use the ASLP-lab/DiffRhythm main branch",
        ) from exc


def broken_g2p_files(root: Path) -> dict[str, str]:
    """The g2p's large data files that are missing or empty (a partial copy): relative path -> what is wrong."""
    found = {}
    for rel in G2P_LARGE_FILES:
        path = root / rel
        if not path.is_file():
            found[rel] = "missing"
        elif path.stat().st_size == 0:
            found[rel] = "empty"
    return found


def g2p_file_problems(root: Path) -> list[str]:
    return [f"{rel} is {state}" for rel, state in broken_g2p_files(root).items()]


def restore_remedy(root: Path, rels: tuple[str, ...] | list[str], is_git: bool | None = None) -> str:
    """What brings back checkout files that are missing or emptied: git (ordinary blobs, no git-lfs), or a new clone.
    `is_git`: whether `root` is a git clone (None: look), for a caller that probed another machine's files."""
    clone = f"`git clone {UPSTREAM_GIT}` and point --diffrhythm at it"
    if (root / ".git").exists() if is_git is None else is_git:
        command = shlex.join(["git", "-C", str(root), "checkout", "HEAD", "--", *rels])
        return (f"restore them from the clone's history: `{command}` (they are ordinary git files, not git-lfs); "
                f"if git no longer has them, {clone}")
    return f"{root} is not a git clone, so a copy without its large files cannot be repaired in place: {clone}"


def import_g2p(root: Path) -> Callable[[str], list[int]]:
    """The checkout's `chn_eng_g2p` as text -> phone ids (before the +1 shift); EnvironmentProblem if broken."""
    broken = broken_g2p_files(root)
    if broken:
        raise EnvironmentProblem(
            f"the checkout's g2p lacks its large data files: {'; '.join(g2p_file_problems(root))} (in {root})",
            restore_remedy(root, list(broken)) + "; an instrumental (no lyrics) still works",
        )
    _purge(("g2p", "thirdparty"))
    importlib.invalidate_caches()
    try:
        with in_checkout(root):
            module = importlib.import_module("g2p.g2p_generation")
    except ModuleNotFoundError as exc:
        raise _missing_package(exc, "the checkout's g2p", root) from exc
    except FileNotFoundError as exc:
        missing = Path(str(exc.filename or ""))
        rel = missing.relative_to(root) if missing.is_absolute() and missing.is_relative_to(root) else missing
        raise EnvironmentProblem(
            f"the checkout's g2p cannot find {exc.filename} (looked up from {root})",
            restore_remedy(root, [rel.as_posix()]),
        ) from exc
    except ImportError as exc:
        raise EnvironmentProblem(f"the checkout's g2p failed to import: {exc}", ESPEAK_REMEDY) from exc
    except RuntimeError as exc:
        text = str(exc)
        if "espeak" in text.lower() or "language" in text.lower():
            raise EnvironmentProblem(f"the checkout's g2p cannot start espeak-ng: {text}", ESPEAK_REMEDY) from exc
        raise EnvironmentProblem(f"the checkout's g2p failed at import: {text}", ESPEAK_REMEDY) from exc
    g2p = getattr(module, "chn_eng_g2p", None)
    if g2p is None:
        raise EnvironmentProblem(
            f"{root / 'g2p/g2p_generation.py'} has no chn_eng_g2p", "use the ASLP-lab/DiffRhythm main branch"
        )

    def tokenize(text: str) -> list[int]:
        with in_checkout(root):
            _phones, ids = g2p(text)
        return [int(i) for i in ids]

    return tokenize

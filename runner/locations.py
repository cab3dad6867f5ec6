"""The one place that knows drdoctor's folders and the Hugging Face cache folder.

XDG base directories, each overridable: `DRDOCTOR_CONFIG` (the config file), `DRDOCTOR_CACHE_DIR`,
`DRDOCTOR_DATA_DIR`. Every function takes the environment to read (default: this process's), so the
doctor can ask about a probed machine and tests can point everything at a temporary home.
Torch-free and dependency-free: the doctor, the runner and install.sh's helpers all import it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP = "drdoctor"


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def home(env: Mapping[str, str] | None = None) -> Path:
    env = _env(env)
    return Path(env.get("HOME") or os.path.expanduser("~"))


def expand(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Path:
    """`~` from the given environment's HOME, relative paths from the current directory."""
    text = os.fspath(path)
    if text == "~" or text.startswith("~/"):
        text = str(home(env)) + text[1:]
    return Path(os.path.abspath(text))


def _xdg(name: str, fallback: str, env: Mapping[str, str] | None) -> Path:
    value = _env(env).get(name)
    return expand(value, env) if value else home(env) / fallback


def config_file(env: Mapping[str, str] | None = None) -> Path:
    """`$DRDOCTOR_CONFIG`, else `$XDG_CONFIG_HOME/drdoctor/config.toml`."""
    env = _env(env)
    if env.get("DRDOCTOR_CONFIG"):
        return expand(env["DRDOCTOR_CONFIG"], env)
    return _xdg("XDG_CONFIG_HOME", ".config", env) / APP / "config.toml"


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Things that can be rebuilt: hash caches, style caches, compiled kernels."""
    env = _env(env)
    if env.get("DRDOCTOR_CACHE_DIR"):
        return expand(env["DRDOCTOR_CACHE_DIR"], env)
    return _xdg("XDG_CACHE_HOME", ".cache", env) / APP


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """Things that cannot: installed checkouts and environments, the job database, tokens."""
    env = _env(env)
    if env.get("DRDOCTOR_DATA_DIR"):
        return expand(env["DRDOCTOR_DATA_DIR"], env)
    return _xdg("XDG_DATA_HOME", ".local/share", env) / APP


def hf_hub_cache(env: Mapping[str, str] | None = None) -> Path:
    """The Hugging Face hub cache as huggingface_hub resolves it: HF_HUB_CACHE, HF_HOME/hub, XDG cache."""
    env = _env(env)
    explicit = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return expand(explicit, env)
    if env.get("HF_HOME"):
        return expand(env["HF_HOME"], env) / "hub"
    return _xdg("XDG_CACHE_HOME", ".cache", env) / "huggingface" / "hub"

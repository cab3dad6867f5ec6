"""drdoctor's config file: `$XDG_CONFIG_HOME/drdoctor/config.toml` (or `$DRDOCTOR_CONFIG`).

Tables and keys (all optional):
  [diffrhythm] root = checkout folder, python = interpreter of its environment
  [models]     cfm, cfm_full, vae = weight files; muq = MuQ-MuLan folder; dir = a folder to search
  [run]        hf_hub_offline = true|false
  [container]  image, models, out
The fixes write it; `drdoctor check` and `drdoctor generate` read it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

import tomli_w

from runner import locations


class ConfigError(Exception):
    """The config file exists but cannot be read; the message names the file and the problem."""


def config_path(env: Mapping[str, str] | None = None) -> Path:
    return locations.config_file(env)


def load(path: Path | None = None) -> dict[str, Any]:
    """The whole config as nested dicts; {} when there is no file."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix or delete the file") from exc


def get(config: dict[str, Any], table: str, key: str, default: Any = None) -> Any:
    value = config.get(table, {})
    return value.get(key, default) if isinstance(value, dict) else default


def merged(config: dict[str, Any], updates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`config` with `updates` laid over it table by table; neither argument is changed."""
    result = {table: dict(values) if isinstance(values, dict) else values for table, values in config.items()}
    for table, values in updates.items():
        result.setdefault(table, {}).update(values)
    return result


def dumps(config: dict[str, Any]) -> str:
    return tomli_w.dumps(config)

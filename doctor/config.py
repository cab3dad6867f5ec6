"""drdoctor's config file: `$XDG_CONFIG_HOME/drdoctor/config.toml` (or `$DRDOCTOR_CONFIG`).

Tables and keys (all optional):
  [diffrhythm] root = checkout folder, python = interpreter of its environment
  [models]     cfm, cfm_full, vae = weight files; muq = MuQ-MuLan folder; dir = a folder to search
  [run]        hf_hub_offline = true|false
  [container]  image, models, out
`load` reads it (`drdoctor check`, `drdoctor generate`); `updated_text` is the one writer: every fix (and
the installer) turns its changes into the file's new text with it, keeping the user's comments and layout:

    new_text = config.updated_text(path, {"run": {"hf_hub_offline": True}})
    step = plan.edit(path, new_text, "set [run] hf_hub_offline = true")   # shown as a diff, applied atomically
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

from runner import locations, textfile


class ConfigError(Exception):
    """The config file exists but cannot be read; the message names the file and the problem."""


def config_path(env: Mapping[str, str] | None = None) -> Path:
    return locations.config_file(env)


def _read(path: Path) -> textfile.Text | None:
    try:
        return textfile.read(path)
    except textfile.Unreadable as exc:
        raise ConfigError(f"{exc} (it is drdoctor's config file)") from exc


def load(path: Path | None = None) -> dict[str, Any]:
    """The whole config as nested dicts; {} when there is no file."""
    path = path or config_path()
    found = _read(path)
    if found is None:
        return {}
    try:
        return tomllib.loads(found.without_bom())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix or delete the file") from exc


def get(config: dict[str, Any], table: str, key: str, default: Any = None) -> Any:
    value = config.get(table, {})
    return value.get(key, default) if isinstance(value, dict) else default


def updated_text(path: Path, updates: Mapping[str, Mapping[str, Any]]) -> str:
    """The text `path` would hold with `updates` ({table: {key: value}}) set in it: every other line, comment
    and blank of the file kept as it is (a missing file or table is created). ConfigError when unreadable."""
    import tomlkit  # only a fix writes: `drdoctor check` reads with tomllib and never pays this import
    import tomlkit.exceptions

    found = _read(path)
    text = found.text if found else ""
    bom = textfile.BOM if text.startswith(textfile.BOM) else ""
    try:
        document = tomlkit.parse(text.removeprefix(bom))
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix or delete the file") from exc
    for name, values in updates.items():
        table = document.get(name)
        if table is None:
            table = document[name] = tomlkit.table()
        elif not isinstance(table, Mapping):
            raise ConfigError(f"{path}: `{name}` is a {type(table).__name__}, not a table; fix or delete the file")
        for key, value in values.items():
            table[key] = value
    return bom + tomlkit.dumps(document)

"""What the app keeps: the palette's theme (`[tui] theme` in drdoctor's config file), and screenshots."""

from __future__ import annotations

from pathlib import Path

from doctor import config as config_mod
from runner import locations
from runner.atomic import write_text_atomic

TABLE = "tui"


def saved_theme() -> str | None:
    try:
        value = config_mod.get(config_mod.load(), TABLE, "theme")
    except config_mod.ConfigError:
        return None
    return value if isinstance(value, str) else None


def save_theme(name: str) -> str | None:
    """Keep `name` for the next start (the rest of the file as it was); the reason when it cannot be kept."""
    path = config_mod.config_path()
    try:
        text = config_mod.updated_text(path, {TABLE: {"theme": name}})
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    except config_mod.ConfigError as exc:
        return str(exc)
    except OSError as exc:
        return f"{path}: cannot write ({exc.strerror})"
    return None


def screenshot_folder() -> Path:
    """~/Downloads (as the platform names it) when it exists; else drdoctor's data folder's `screenshots/`,
    created. Textual's default is the former, and saving fails where it does not exist."""
    from platformdirs import user_downloads_path

    downloads = user_downloads_path()
    if downloads.is_dir():
        return downloads
    folder = locations.data_dir() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder

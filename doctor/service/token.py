"""The API token of `drdoctor serve`: made on first use, kept in the data folder with mode 0600."""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path

from runner.atomic import write_text_atomic


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def load_or_create(path: Path) -> tuple[str, bool]:
    """(token, created). A token file readable by others is refused rather than used."""
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise PermissionError(f"{path} has mode {mode:o}: others can read the API token; "
                                  f"run `chmod 600 {path}` (or delete it to make a new token)")
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token, False
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_text_atomic(path, token + "\n", mode=0o600)
    return token, True

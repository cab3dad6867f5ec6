"""Where the service keeps its files: each job's folder (runs and song), uploads, the API token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner import locations

RUN_REQUEST = "request.json"  # runner.artifacts.REQUEST: a run folder holding it can be resumed


def _service(config: dict[str, Any]) -> dict[str, Any]:
    value = config.get("service")
    return value if isinstance(value, dict) else {}


def jobs_root(config: dict[str, Any]) -> Path:
    """`[service] jobs_dir`, else the data folder's service/jobs. Workers on many hosts that should
    serve each other's songs through one `drdoctor serve` point it at a shared folder."""
    configured = _service(config).get("jobs_dir")
    return locations.expand(configured) if configured else locations.data_dir() / "service" / "jobs"


def job_dir(config: dict[str, Any], job_id: int, instance: str) -> Path:
    """Job `job_id` of the database whose instance id is `instance` (`store.instance`; job ids restart in every
    database)."""
    root = jobs_root(config)
    return (root / instance if instance else root) / str(int(job_id))


def uploads_root(config: dict[str, Any]) -> Path:
    return locations.data_dir() / "service" / "uploads"


def token_file() -> Path:
    return locations.data_dir() / "service" / "api-token"


def input_folders(config: dict[str, Any]) -> list[Path]:
    """`[service] input_dirs`: folders whose files a request may name (besides uploads)."""
    folders = _service(config).get("input_dirs") or []
    return [locations.expand(str(f)) for f in folders] if isinstance(folders, list) else []


def setting(config: dict[str, Any], key: str, default: Any) -> Any:
    return _service(config).get(key, default)


def latest_run(folder: Path) -> Path | None:
    """The newest run folder under `folder` that the runner can resume (it holds its request)."""
    try:
        runs = [p for p in folder.iterdir() if (p / RUN_REQUEST).is_file()]
    except OSError:
        return None
    return max(runs, key=lambda p: (p / RUN_REQUEST).stat().st_mtime) if runs else None

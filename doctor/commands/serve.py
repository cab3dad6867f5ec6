"""`drdoctor serve [--host 127.0.0.1] [--port 8750]`: the HTTP API and page for song jobs.

Binds to loopback by default. Any other address needs the API token: made on first use, stored with
mode 0600 in drdoctor's data folder; clients send `Authorization: Bearer TOKEN`. API docs: /docs.
"""

from __future__ import annotations

import argparse
import socket
import sys

from doctor import config as config_mod
from runner.events import ExitCode

DEFAULT_PORT = 8750


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="drdoctor serve", description="The HTTP API and page for song jobs.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need the token)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free one)")
    p.add_argument("--database-url", help="Postgres URL (default: DRDOCTOR_DATABASE_URL, config, embedded)")
    p.add_argument("--require-token", action="store_true", help="ask for the token on loopback too")
    return p


def main(argv: list[str]) -> int:
    ns = _parser().parse_args(argv)
    try:
        config = config_mod.load()
    except config_mod.ConfigError as exc:
        print(f"drdoctor serve: {exc}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    try:
        import uvicorn

        from doctor.service import folders, schema
        from doctor.service.database import DatabaseError
        from doctor.service.http import create_app
        from doctor.service.token import is_loopback, load_or_create
    except ImportError as exc:
        print(f"drdoctor serve: {exc.name} is not installed\n  what to do: ./install.sh --dev, or "
              "pip install 'drdoctor[service]'", file=sys.stderr)
        return int(ExitCode.ENVIRONMENT)
    token = None
    if ns.require_token or not is_loopback(ns.host):
        try:
            token, created = load_or_create(folders.token_file())
        except (OSError, PermissionError) as exc:
            print(f"drdoctor serve: {exc}", file=sys.stderr)
            return int(ExitCode.ENVIRONMENT)
        why = "--require-token" if is_loopback(ns.host) else f"{ns.host} is not loopback"
        print(f"drdoctor serve: {why}: requests need the token in {folders.token_file()}"
              + (" (made now)" if created else ""), file=sys.stderr, flush=True)
    try:
        url = schema.ready_url(ns.database_url, config)
    except DatabaseError as exc:
        print(f"drdoctor serve: {exc}", file=sys.stderr)
        return int(ExitCode.ENVIRONMENT)
    app = create_app(url, config, token)
    try:
        sock = listening_socket(ns.host, ns.port)
    except OSError as exc:
        print(f"drdoctor serve: cannot listen on {ns.host}:{ns.port}: {exc.strerror}", file=sys.stderr)
        return int(ExitCode.ENVIRONMENT)
    host, port = sock.getsockname()[:2]
    print(f"drdoctor serve: listening on http://{host}:{port}/ (API docs: /docs)", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])  # stops on SIGINT / SIGTERM
    return 0


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound before the server starts, so the address printed is the real one (port 0: one the OS picks)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock

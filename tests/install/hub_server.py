"""A stand-in Hugging Face Hub on 127.0.0.1 speaking the resolve/HEAD protocol the real client uses.

`HEAD|GET /{org}/{name}/resolve/{revision}/{file}` answers `ETag` (the quoted SHA-256 of the bytes, as the
Hub does for an LFS file), `X-Repo-Commit`, `Content-Length` and `Accept-Ranges`; a `Range: bytes=N-` GET
answers 206 with the rest. `GET /api/agent-harnesses` (huggingface_hub 2.4 asks once) answers 404.
Knobs for the tests: `lie` (serve other bytes under the good ETag), `rate` (bytes per second, so a
download can be killed half way), and `log` (every request: method, path, Range header).
"""

from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hub:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        self.commits: dict[str, str] = {}
        self.lie: dict[tuple[str, str], bytes] = {}
        self.rate: float | None = None
        self.log: list[tuple[str, str, str | None]] = []
        self.server: ThreadingHTTPServer | None = None

    def add(self, repo: str, name: str, data: bytes) -> str:
        self.files[(repo, name)] = data
        self.commits.setdefault(repo, hashlib.sha1(repo.encode()).hexdigest())
        return hashlib.sha256(data).hexdigest()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def gets(self, repo: str, name: str) -> list[str | None]:
        """The Range header of every GET of one file (None: the whole file)."""
        return [rng for method, path, rng in self.log
                if method == "GET" and path.startswith(f"/{repo}/resolve/") and path.endswith("/" + name)]

    def start(self) -> Hub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _lookup(self):
                parts = self.path.split("?")[0].strip("/").split("/")
                # "org/name/resolve/rev/file", or a canonical repo without an org: "name/resolve/rev/file"
                cut = 2 if len(parts) > 2 and parts[2] == "resolve" else 1
                if len(parts) < cut + 3 or parts[cut] != "resolve":
                    return None
                repo, revision, name = "/".join(parts[:cut]), parts[cut + 1], "/".join(parts[cut + 2:])
                if (repo, name) not in hub.files or revision not in ("main", hub.commits.get(repo)):
                    return None
                return repo, name

            def _answer(self, body: bool) -> None:
                hub.log.append((self.command, self.path, self.headers.get("Range")))
                found = self._lookup()
                if found is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.end_headers()
                    return
                data = hub.files[found]
                served = hub.lie.get(found, data)
                start = 0
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes=") and body:
                    start = int(rng[6:].split("-")[0])
                self.send_response(206 if start else 200)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("X-Repo-Commit", hub.commits[found[0]])
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(served) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(served) - 1}/{len(served)}")
                self.end_headers()
                if not body:
                    return
                rest = served[start:]
                step = 16 * 1024
                for offset in range(0, len(rest), step):
                    try:
                        self.wfile.write(rest[offset:offset + step])
                        self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    if hub.rate:
                        time.sleep(step / hub.rate)

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

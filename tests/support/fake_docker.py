"""A Docker engine that answers but can pull nothing: what a machine without registry access has.

It answers the ping and the version query as an engine does, says every image is
missing, and fails every pull the way an engine fails one when the registry cannot be
reached; anything else is an error too. It starts no container: the tests that use it
show what the suite does when testcontainers cannot start, without Docker.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

#: What an engine says when the registry cannot be reached (the reaper's pull, then any other).
PULL_FAILURE = (
    'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'
)
VERSION = {
    "Version": "27.0.0",
    "ApiVersion": "1.46",
    "MinAPIVersion": "1.24",
    "Os": "linux",
    "Arch": "amd64",
    "Components": [{"Name": "Engine", "Version": "27.0.0"}],
}
#: An API path without its version prefix: /v1.46/images/create is /images/create.
VERSIONED = re.compile(r"^/v\d+\.\d+(?=/)")


class FakeDocker:
    """`with FakeDocker() as engine:` an engine at `engine.host` (for DOCKER_HOST)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.answer("GET")

            def do_POST(self) -> None:
                self.answer("POST")

            def do_HEAD(self) -> None:
                self.answer("HEAD")

            def answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = VERSIONED.sub("", self.path.split("?", 1)[0])
                fake.requests.append(f"{method} {self.path}")
                if path == "/_ping":
                    self.reply(200, "OK", "text/plain")
                elif path == "/version":
                    self.reply(200, VERSION)
                elif method == "GET" and path.startswith("/images/") and path.endswith("/json"):
                    self.reply(404, {"message": f"No such image: {path[8:-5]}"})
                elif path == "/images/create":
                    self.reply(500, {"message": PULL_FAILURE})
                else:
                    self.reply(500, {"message": f"not supported here: {method} {path}"})

            def reply(self, status: int, body: Any, kind: str = "application/json") -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Api-Version", str(VERSION["ApiVersion"]))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the requests are kept in `requests`."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.host = f"tcp://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeDocker:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def pulls(self) -> list[str]:
        """The images it was asked to pull, as `name:tag`."""
        found = []
        for line in self.requests:
            match = re.search(r"/images/create\?(\S+)", line)
            if match:
                query = parse_qs(match.group(1))
                found.append(f"{query['fromImage'][0]}:{query['tag'][0]}")
        return found

"""The gevent worker: its envelope for gunicorn's refusals, what gunicorn's master imports,
and its turn-taking between keep-alive connections.

The worker's behaviour with hostile clients is tested through gunicorn on MySQL in
tests/integration/test_hostile_clients.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.gunicorn_worker import envelope_error
from tests.support.live_server import PROJECT_ROOT, LiveServer


@pytest.mark.parametrize(
    ("status", "reason", "key"),
    [
        (400, "Bad Request", "bad_request"),
        (414, "URI Too Long", "uri_too_long"),
        (431, "Request Header Fields Too Large", "headers_too_large"),
        (501, "Not Implemented", "http_error"),
    ],
)
def test_a_refusal_is_a_whole_response_in_the_envelope(status: int, reason: str, key: str) -> None:
    head, _, body = envelope_error(status, reason).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert lines[0] == f"HTTP/1.1 {status} {reason}"
    assert headers["Connection"] == "close"
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    assert len(headers["X-Request-ID"]) == 32
    envelope = json.loads(body)
    assert envelope["code"] == 0
    assert envelope["error"] == key
    assert envelope["msg"]


def test_each_refusal_has_a_request_id_of_its_own() -> None:
    ids = {envelope_error(400, "Bad Request").split(b"X-Request-ID: ")[1][:32] for _ in range(3)}
    assert len(ids) == 3


#: What gunicorn's master loads from gunicorn.conf.py: the settings, the worker
#: class, the logger class and the log formatter.
MASTER_IMPORTS = """
import importlib, runpy, sys
settings = runpy.run_path("gunicorn.conf.py")
for dotted in (
    settings["worker_class"],
    settings["logger_class"],
    settings["logconfig_dict"]["formatters"]["json"]["()"],
):
    module, _, name = dotted.rpartition(".")
    getattr(importlib.import_module(module), name)
from service.config import Config  # on_starting's settings check
Config.from_env({}).check()
drivers = ("peewee", "playhouse", "pymysql", "requests")
print(" ".join(sorted(m for m in drivers if m in sys.modules)))
"""


def test_gunicorn_master_imports_no_database_driver_or_orm() -> None:
    """A gevent worker patches the standard library after it forks; the master must
    not have imported peewee by then, or peewee's thread-local connection state is
    made from the unpatched `threading.local` and every greenlet shares one connection."""
    done = subprocess.run(
        [sys.executable, "-c", MASTER_IMPORTS],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "", done.stdout


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One worker process, so that every connection is served by the same gevent loop."""
    path: Path = tmp_path_factory.mktemp("worker") / "service.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{path}", "AUTO_MIGRATE": "true", "APP_ENV": "development"}
    with LiveServer(env, workers=1) as server:
        yield server


def test_a_pipelining_connection_takes_turns_with_the_others(one_worker: LiveServer) -> None:
    """A connection whose next request is already buffered is served again without ever
    blocking, so gevent would never switch away from it: it would keep its worker, and
    every other connection waits. Under load that is the read tail at c=32; here, one
    client pipelines 200 requests and another, connecting just after, must be answered
    before that pipeline is through."""
    requests_ = 200
    request = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
    with (
        socket.create_connection(("127.0.0.1", one_worker.port), timeout=10) as greedy,
        socket.create_connection(("127.0.0.1", one_worker.port), timeout=10) as other,
    ):
        greedy.sendall(request * requests_)
        other.sendall(request.replace(b"HTTP/1.1", b"HTTP/1.0"))  # answered, then closed
        answer = b""
        while chunk := other.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.0 200 ")
        # Loopback delivers a send at once: what the greedy client holds now is what the
        # worker had answered it before it answered the other.
        greedy.setblocking(False)
        received = b""
        try:
            while chunk := greedy.recv(1 << 20):
                received += chunk
        except BlockingIOError:
            pass
    answered_first = received.count(b"HTTP/1.1 200 ")
    assert answered_first < requests_ // 2, f"{answered_first} of {requests_} answered first"

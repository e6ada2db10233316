"""The gevent worker's envelope for gunicorn's refusals, and what gunicorn's master imports.

The worker's behaviour with real clients is tested through gunicorn in
tests/integration/test_hostile_clients.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from service.gunicorn_worker import envelope_error
from tests.support.live_server import PROJECT_ROOT


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

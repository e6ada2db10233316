"""The worker's request framing and error envelope, without a server.

The live behaviour (slow sockets, gunicorn's refusals over a socket) is in
tests/integration/test_hostile_clients.py.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

from service.worker import HEAD_CAP, _is_probe, envelope_error, request_complete

LIMIT = 1000
HEAD = b"POST /api/count HTTP/1.1\r\nHost: x\r\n"


@pytest.mark.parametrize(
    ("buffer", "complete"),
    [
        (b"GET /api/count HTTP/1.1\r\nHost: x", False),
        (b"GET /api/count HTTP/1.1\r\nHost: x\r\n\r\n", True),
        (HEAD + b"Content-Length: 10\r\n\r\n12345", False),
        (HEAD + b"Content-Length: 10\r\n\r\n1234567890", True),
        (HEAD + b"content-length:10\r\n\r\n1234567890", True),
        (HEAD + b"Content-Length: 10\r\n\r\n1234567890GET / HTTP/1.1\r\n", True),
        (HEAD + b"Content-Length: nope\r\n\r\n", True),  # gunicorn refuses it
        (HEAD + b"Content-Length: %d\r\n\r\n" % (LIMIT + 1), True),  # the app's 413
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", False),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhel", False),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n", False),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", True),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n", True),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n", True),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", True),  # malformed
        (HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n", False),
    ],
)
def test_a_request_is_complete_once_its_head_and_body_are_in(buffer: bytes, complete: bool) -> None:
    assert request_complete(buffer, LIMIT) is complete


def test_oversized_heads_and_bodies_are_handed_over_unfinished() -> None:
    assert request_complete(b"GET / HTTP/1.1\r\nX: " + b"a" * HEAD_CAP, LIMIT) is True
    assert request_complete(b"GET / HTTP/1.1\r\nX: " + b"a" * (HEAD_CAP - 100), LIMIT) is False
    chunked = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    endless = chunked + b"".join(b"400\r\n" + b" " * 1024 + b"\r\n" for _ in range(40))
    assert request_complete(endless, LIMIT) is True


@pytest.mark.parametrize(
    ("line", "probe"),
    [
        (b"GET /healthz HTTP/1.1\r\n", True),
        (b"HEAD /readyz HTTP/1.1\r\n", True),
        (b"GET /healthz?x=1 HTTP/1.1\r\n", False),
        (b"POST /healthz HTTP/1.1\r\n", False),
        (b"GET /api/count HTTP/1.1\r\n", False),
    ],
)
def test_only_probe_requests_take_the_probe_threads(line: bytes, probe: bool) -> None:
    assert _is_probe(line + b"Host: x\r\n\r\n") is probe


@pytest.mark.parametrize(
    ("status", "reason", "error"),
    [
        (431, "Request Header Fields Too Large", "headers_too_large"),
        (414, "URI Too Long", "uri_too_long"),
        (400, "Bad Request", "bad_request"),
        (501, "Not Implemented", "http_error"),
    ],
)
def test_gunicorn_errors_become_the_envelope(status: int, reason: str, error: str) -> None:
    response = envelope_error(status, reason)
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == f"HTTP/1.1 {status} {reason}"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    assert len(headers["X-Request-ID"]) == 32
    envelope = json.loads(body)
    assert (envelope["code"], envelope["error"], envelope["data"]) == (0, error, {})
    assert envelope["msg"]


def test_gunicorn_builds_no_access_line_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """gunicorn.conf.py's logger class: the app logs each request; gunicorn must not format one."""
    from gunicorn.config import Config as GunicornConfig

    from service.gunicorn_logging import AppLogsRequests

    settings = runpy.run_path(str(Path(__file__).parents[2] / "gunicorn.conf.py"))
    assert settings["logger_class"] == "service.gunicorn_logging.AppLogsRequests"
    cfg = GunicornConfig()
    cfg.set("logconfig_dict", settings["logconfig_dict"])
    logger = AppLogsRequests(cfg)

    def atoms(*args: object) -> dict[str, str]:
        raise AssertionError("gunicorn formatted an access line")

    monkeypatch.setattr(logger, "atoms", atoms)
    logger.access(object(), object(), {}, 0.001)

"""Clients that hold sockets open, send too much, or speak before the app can answer.

Against gunicorn with the project's gunicorn.conf.py and its worker
(service/worker.py), on MySQL: what a hostile client meets on Cloud Run's
public domain.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import requests

from tests.support.live_server import LiveServer
from tests.support.mysql import MySQLServer

READ_TIMEOUT = 3.0  # REQUEST_READ_TIMEOUT for this server: short, so the test is too
SLOW_SOCKETS = 32


@pytest.fixture(scope="module")
def server(mysql_server: MySQLServer) -> Iterator[LiveServer]:
    with mysql_server.scratch_database() as name:
        env = {
            "DATABASE_URL": mysql_server.url(name),
            "AUTO_MIGRATE": "true",
            "REQUEST_READ_TIMEOUT": str(READ_TIMEOUT),
        }
        with LiveServer(env, workers=2) as live:
            yield live


def open_slow(server: LiveServer, stack: ExitStack, kind: str) -> socket.socket:
    sock = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=5))
    if kind == "dribbling body":  # headers, then 5 of 100 announced bytes
        sock.sendall(
            b"POST /api/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"act'
        )
    elif kind == "half a header":
        sock.sendall(b"GET /api/count HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    return sock  # "silent": connected, sends nothing


def timed(url: str) -> tuple[int, float]:
    started = time.monotonic()
    response = requests.get(url, timeout=5)
    return response.status_code, time.monotonic() - started


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_32_slow_sockets_neither_block_probes_nor_the_api(server: LiveServer) -> None:
    kinds = ["dribbling body", "silent", "half a header"]
    with ExitStack() as stack:
        sockets = [open_slow(server, stack, kinds[n % 3]) for n in range(SLOW_SOCKETS)]
        time.sleep(0.5)  # every slow socket has been accepted and is waiting
        took = {}
        for path in ("/healthz", "/api/count", "/readyz"):
            status, took[path] = timed(f"{server.url}{path}")
            assert status == 200, path
        print(
            f"with {SLOW_SOCKETS} slow sockets open: "
            + ", ".join(f"{path} {seconds * 1000:.0f} ms" for path, seconds in took.items())
        )
        assert max(took.values()) < 1.0, took  # a bound, not a benchmark: normally ~10 ms

        # After REQUEST_READ_TIMEOUT (and the event loop's 1 s tick) each is closed.
        started = time.monotonic()
        assert all(closed_by_server(s, READ_TIMEOUT + 2.5) for s in sockets)
        assert time.monotonic() - started < READ_TIMEOUT + 2.5


def test_a_request_sent_slowly_but_within_the_limit_is_served(server: LiveServer) -> None:
    body = b'{"action": "inc"}'
    head = (
        b"POST /api/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for piece in (head[:10], head[10:], body[:5], body[5:]):
            sock.sendall(piece)
            time.sleep(0.3)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert b'"code":1' in answer


def raw_exchange(server: LiveServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ")[1]), {k.lower(): v for k, v in headers.items()}, body


def test_a_chunked_body_over_the_limit_is_413_and_counts_nothing(server: LiveServer) -> None:
    before = requests.get(f"{server.url}/api/count", timeout=5).json()["data"]
    payload = b'{"action":"inc"}' + b" " * 200_000
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(part), part)
        for part in (payload[i : i + 8192] for i in range(0, len(payload), 8192))
    )
    status, _, body = raw_exchange(
        server,
        b"POST /api/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks + b"0\r\n\r\n",
    )
    assert status == 413, body
    assert b'"error":"payload_too_large"' in body
    assert requests.get(f"{server.url}/api/count", timeout=5).json()["data"] == before


def test_a_small_chunked_body_is_served(server: LiveServer) -> None:
    payload = b'{"action":"inc"}'
    status, _, body = raw_exchange(
        server,
        b"POST /api/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + b"%x\r\n%s\r\n0\r\n\r\n"
        % (len(payload), payload),
    )
    assert status == 200, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "error"),
    [
        (
            b"GET /api/count HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
            431,
            "headers_too_large",
        ),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
        (b"NOT A REQUEST\r\n\r\n", 400, "bad_request"),
    ],
    ids=["headers over 8 KB", "request line over 8 KB", "garbage"],
)
def test_what_gunicorn_refuses_comes_in_the_envelope(
    server: LiveServer, request_bytes: bytes, status: int, error: str
) -> None:
    got, headers, body = raw_exchange(server, request_bytes)
    assert got == status
    assert headers["content-type"] == "application/json"
    assert len(headers["x-request-id"]) == 32
    assert f'"error":"{error}"'.encode() in body
    assert b'"code":0' in body


def test_options_is_204_with_allow_over_http(server: LiveServer) -> None:
    response = requests.options(f"{server.url}/api/count", timeout=5)
    assert response.status_code == 204
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET", "POST"}
    assert response.content == b""

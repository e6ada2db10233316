"""Clients that hold sockets open, send too much, send it wrong, or never read.

Against a real gunicorn with the project's gunicorn.conf.py, on MySQL: what a
hostile client meets on Cloud Run's public domain, where no buffering proxy
stands in front of the service. Three promises are measured here:
- however many such connections are open, `/healthz`, `/readyz` and
  `GET /api/count` answer within PROBE_BOUND;
- each such connection is answered or closed within CONNECTION_BOUND: a
  request head must arrive within `keepalive` seconds, a body must not stall
  for longer than REQUEST_READ_TIMEOUT;
- malformed framing is refused at once, with a 4xx in the envelope.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, suppress

import pytest
import requests

from tests.support.live_server import LiveServer
from tests.support.mysql import MySQLServer
from tests.support.waiting import ESTABLISHED, not_accepted, server_side_state, wait_until

READ_TIMEOUT = 3.0  # REQUEST_READ_TIMEOUT for this server: short, so the test is too
KEEPALIVE = 2  # GUNICORN_KEEPALIVE for this server, likewise
#: The promise to a healthy client while hostile ones hold connections.
PROBE_BOUND = 1.5
#: Generous: a stalled body is answered after READ_TIMEOUT, its connection then
#: waits at most KEEPALIVE for a next request head; the rest is slack for a busy machine.
CONNECTION_BOUND = READ_TIMEOUT + KEEPALIVE + 3.0


@pytest.fixture(scope="module")
def server(mysql_server: MySQLServer) -> Iterator[LiveServer]:
    with mysql_server.scratch_database() as name:
        env = {
            "DATABASE_URL": mysql_server.url(name),
            "AUTO_MIGRATE": "true",
            "REQUEST_READ_TIMEOUT": str(READ_TIMEOUT),
            "GUNICORN_KEEPALIVE": str(KEEPALIVE),
        }
        with LiveServer(env, workers=2) as live:
            yield live


INC = b'{"action":"inc"}'
POST_HEAD = (
    b"POST /api/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n"
)

#: What each hostile client sends, and then it sends nothing more.
HOSTILE: dict[str, bytes] = {
    "silent": b"",
    "half a header": b"GET /api/count HTTP/1.1\r\nHost: x\r\nX-Slow: ",
    "header block over the limits, unfinished": b"GET /api/count HTTP/1.1\r\nHost: x\r\n"
    + b"".join(b"X-Pad-%d: %s\r\n" % (n, b"a" * 1000) for n in range(120)),
    "body announced, never sent": POST_HEAD % 100,
    "body stuck mid-way": POST_HEAD % 100 + b'{"act',
    "a request, then half of the next": b"GET /api/count HTTP/1.1\r\nHost: x\r\n\r\n"
    + b"GET /api/count HTTP/1.1\r\nHost: x\r\nX-Half: ",
}


def open_hostile(server: LiveServer, stack: ExitStack, sends: bytes) -> socket.socket:
    sock = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=5))
    if sends:
        sock.sendall(sends)
    return sock


NEVER_READ = 400  # requests for a 28 KB document


def open_never_reading(server: LiveServer, stack: ExitStack) -> tuple[socket.socket, int]:
    """Asks for far more than the socket buffers hold, and never reads an answer.

    Returns the socket and how many requests it sent: as many as the server took
    before its answers got stuck, NEVER_READ at most.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stack.enter_context(sock)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", server.port))
    request = b"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"
    sent = 0
    with suppress(TimeoutError):
        for _ in range(NEVER_READ):
            sock.settimeout(0.5)
            sock.sendall(request)
            sent += 1
    sock.settimeout(5)
    return sock, sent


def timed_get(url: str) -> tuple[int, float]:
    started = time.monotonic()
    response = requests.get(url, timeout=5)
    return response.status_code, time.monotonic() - started


def probe_all(server: LiveServer) -> dict[str, float]:
    took = {}
    for path in ("/healthz", "/readyz", "/api/count"):
        status, took[path] = timed_get(f"{server.url}{path}")
        assert status == 200, path
    return took


def ends_within(sock: socket.socket, deadline: float) -> bool:
    """Whether the server closes `sock` (after answering, or not) before `deadline`."""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if sock.recv(65536) == b"":
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
    return False


def test_hostile_clients_neither_block_probes_nor_the_api(server: LiveServer) -> None:
    with ExitStack() as stack:
        opened = time.monotonic()
        sockets = {
            f"{kind} #{n}": open_hostile(server, stack, sends)
            for kind, sends in HOSTILE.items()
            for n in range(6)
        }
        # Its bound is tested on its own: reading here would serve it again.
        open_never_reading(server, stack)
        wait_until(lambda: not_accepted(server.port) == 0, 5, "gunicorn to accept every client")
        took = probe_all(server)
        print(
            "with hostile clients open: "
            + ", ".join(f"{p} {s * 1000:.0f} ms" for p, s in took.items())
        )
        assert max(took.values()) < PROBE_BOUND, took

        # Still answered while the stalled bodies are at their longest: the time
        # passing is what is tested here, so this is a sleep, not a wait for an event.
        time.sleep(max(0.0, opened + READ_TIMEOUT - 0.5 - time.monotonic()))
        took = probe_all(server)
        assert max(took.values()) < PROBE_BOUND, took

        deadline = opened + CONNECTION_BOUND
        still_open = [name for name, sock in sockets.items() if not ends_within(sock, deadline)]
        assert not still_open, f"open after {CONNECTION_BOUND} s: {still_open}"


def test_each_hostile_connection_is_answered_or_closed_within_the_bound(
    server: LiveServer,
) -> None:
    """One of each kind, side by side, each held to the bound from its own opening.

    Opened one after another, each waiting out its bound before the next, they
    took the sum of their times (14 s); side by side, the longest one's.
    """
    with ExitStack() as stack:
        opened = {}
        for kind, sends in HOSTILE.items():
            started = time.monotonic()
            opened[kind] = (open_hostile(server, stack, sends), started)
        still_open = [
            kind
            for kind, (sock, started) in opened.items()
            if not ends_within(sock, started + CONNECTION_BOUND)
        ]
        assert not still_open, f"open after {CONNECTION_BOUND} s: {still_open}"


def test_a_client_that_never_reads_is_dropped(server: LiveServer) -> None:
    """Reading at last, it gets what the socket buffers held, not every answer: the
    server stopped waiting for it to read and closed the connection."""
    with ExitStack() as stack:
        sock, sent = open_never_reading(server, stack)
        client_port = sock.getsockname()[1]
        assert server_side_state(server.port, client_port) == ESTABLISHED
        wait_until(
            lambda: server_side_state(server.port, client_port) != ESTABLISHED,
            CONNECTION_BOUND,
            "the server to close its end of the connection",
        )
        received = b""
        sock.settimeout(5)
        with suppress(ConnectionResetError):
            while chunk := sock.recv(1 << 20):
                received += chunk
        answered = received.count(b"HTTP/1.1 200")
        print(f"a client that never read: {answered} of {sent} requests answered")
        assert answered < sent, (answered, sent)


def test_a_request_sent_slowly_but_within_the_limits_is_served(server: LiveServer) -> None:
    body = INC
    head = (
        b"POST /api/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for piece in (head[:10], head[10:], body[:5], body[5:]):
            sock.sendall(piece)
            time.sleep(0.3)  # the slowness under test
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert b'"code":1' in answer


class Answer:
    """One HTTP/1.1 response read off a socket: status, headers, body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def envelope(self) -> dict[str, object]:
        assert self.headers.get("content-type") == "application/json", self.headers
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


def read_answer(sock: socket.socket, pending: bytes = b"") -> tuple[Answer, bytes]:
    """The next response on `sock` (by Content-Length), and any bytes read past it."""
    buffer = pending
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, f"closed without an answer: {buffer!r}"
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed mid-answer"
        rest += chunk
    return Answer(int(lines[0].split(" ")[1]), headers, rest[:length]), rest[length:]


def exchange(server: LiveServer, request: bytes) -> Answer:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        return read_answer(sock)[0]


def chunked_post(body: bytes) -> bytes:
    return (
        b"POST /api/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + body
    )


@pytest.mark.parametrize(
    "request_bytes",
    [
        chunked_post(b"zz\r\n" + INC + b"\r\n0\r\n\r\n"),
        chunked_post(b"%x\r\n%sXX0\r\n\r\n" % (len(INC), INC)),
        chunked_post(b"%x;bad\x01ext\r\n%s\r\n0\r\n\r\n" % (len(INC), INC)),
        b"POST /api/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 16\r\nContent-Length: 17\r\n\r\n" + INC,
        b"POST /api/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 16\r\nTransfer-Encoding: chunked\r\n\r\n" + INC,
        b"GET /api/count HTTP/1.1\nHost: x\n\n",
        b"GET /api/count HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n",
    ],
    ids=[
        "chunk size not hex",
        "chunk without its CRLF",
        "control byte in a chunk extension",
        "two different Content-Lengths",
        "Content-Length and chunked",
        "bare LF line ends",
        "one bare LF among CRLFs",
    ],
)
def test_malformed_framing_is_refused_at_once_in_the_envelope(
    server: LiveServer, request_bytes: bytes
) -> None:
    before = requests.get(f"{server.url}/api/count", timeout=5).json()["data"]
    started = time.monotonic()
    answer = exchange(server, request_bytes)
    took = time.monotonic() - started
    assert 400 <= answer.status < 500, (answer.status, answer.body)
    envelope = answer.envelope()
    assert envelope["code"] == 0
    assert len(answer.headers["x-request-id"]) == 32
    assert took < PROBE_BOUND, took
    assert requests.get(f"{server.url}/api/count", timeout=5).json()["data"] == before


def test_expect_100_continue_is_answered_before_the_body_is_sent(server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=PROBE_BOUND) as sock:
        sock.sendall(
            b"POST /api/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(INC)
        )
        interim, rest = read_answer(sock)  # within PROBE_BOUND, or recv times out
        assert interim.status == 100
        sock.settimeout(10)
        sock.sendall(INC)
        final, _ = read_answer(sock, rest)
    assert final.status == 200, final.body
    assert final.envelope()["code"] == 1


def test_a_chunked_body_over_the_limit_is_413_and_counts_nothing(server: LiveServer) -> None:
    before = requests.get(f"{server.url}/api/count", timeout=5).json()["data"]
    payload = INC + b" " * 200_000
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(part), part)
        for part in (payload[i : i + 8192] for i in range(0, len(payload), 8192))
    )
    answer = exchange(server, chunked_post(chunks + b"0\r\n\r\n"))
    assert answer.status == 413, answer.body
    assert answer.envelope()["error"] == "payload_too_large"
    assert requests.get(f"{server.url}/api/count", timeout=5).json()["data"] == before


def test_a_small_chunked_body_is_served(server: LiveServer) -> None:
    answer = exchange(server, chunked_post(b"%x\r\n%s\r\n0\r\n\r\n" % (len(INC), INC)))
    assert answer.status == 200, answer.body


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
    answer = exchange(server, request_bytes)
    assert answer.status == status
    assert len(answer.headers["x-request-id"]) == 32
    envelope = answer.envelope()
    assert envelope["error"] == error
    assert envelope["code"] == 0


def test_options_is_204_with_allow_over_http(server: LiveServer) -> None:
    response = requests.options(f"{server.url}/api/count", timeout=5)
    assert response.status_code == 204
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET", "POST"}
    assert response.content == b""

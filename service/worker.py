"""gunicorn's gthread worker, with requests read whole before a thread is given one.

The stock gthread worker hands a connection to one of its few threads as soon
as the first byte arrives, and that thread then blocks on the socket until
the request is complete. Sixteen clients that send headers and then dribble
their body, or connections that send nothing, hold every thread, and even
`/healthz` goes unanswered. This worker reads each request without blocking
in its event loop, like a buffering proxy would, and gives it to a thread
only once the headers and the announced body have arrived. A connection that
has not sent a whole request within REQUEST_READ_TIMEOUT is closed.

Two more things a client sees:
- `GET /healthz` and `/readyz` are served by a small pool of their own, so
  probes are answered while every request thread waits on a hung database.
- Errors gunicorn answers itself, before the app runs (a malformed request
  line, headers over its limits), come in the service's JSON envelope, with
  a request id, instead of gunicorn's HTML page.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import selectors
import socket
import time
import uuid
from collections import OrderedDict
from concurrent import futures
from functools import partial
from typing import Any

from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker

from service.config import Config
from service.errors import gunicorn_error

log = logging.getLogger(__name__)

#: Headers larger than this are handed over unfinished: gunicorn's own limits
#: (8190 bytes a field, 100 fields) then refuse them with 431.
HEAD_CAP = 64 * 1024
#: Read-ahead beyond MAX_BODY_BYTES: past it, the app's 413 answers without the rest.
BODY_SLACK = 16 * 1024
PROBE_THREADS = 2
PROBE_PATHS = (b"/healthz", b"/readyz")

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*([^\r]*)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding[ \t]*:[^\r]*chunked", re.IGNORECASE)
_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3}) ([^\r\n]*)")


def _chunks_complete(body: bytes | bytearray) -> bool:
    """Whether a chunked body has reached its last chunk and the blank line after it."""
    pos = 0
    while True:
        line_end = body.find(b"\r\n", pos)
        if line_end < 0:
            return False
        size_text = bytes(body[pos:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return True  # malformed: let gunicorn's parser say so
        pos = line_end + 2
        if size == 0:
            # Trailers (usually none) end with an empty line.
            return body.find(b"\r\n", pos) == pos or body.find(b"\r\n\r\n", pos) >= 0
        pos += size + 2
        if pos > len(body):
            return False


def request_complete(buffer: bytes | bytearray, max_body: int) -> bool:
    """Whether `buffer` holds a whole request, or as much as is worth waiting for."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return len(buffer) > HEAD_CAP
    head = bytes(buffer[:head_end])
    body = buffer[head_end + 4 :]
    if len(body) > max_body + BODY_SLACK:
        return True
    if _CHUNKED.search(head):
        return _chunks_complete(body)
    match = _CONTENT_LENGTH.search(head)
    if match is None:
        return True
    try:
        announced = int(match.group(1).strip())
    except ValueError:
        return True  # gunicorn refuses it
    return announced > max_body or len(body) >= announced


def _is_probe(buffer: bytes | bytearray) -> bool:
    line = bytes(buffer[: buffer.find(b"\r\n")])
    parts = line.split(b" ")
    return len(parts) == 3 and parts[0] in (b"GET", b"HEAD") and parts[1] in PROBE_PATHS


class _Capture:
    """Stands in for a client socket while gunicorn writes an error page to it."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def setblocking(self, flag: bool) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.data += data

    def send(self, data: bytes) -> int:
        self.data += data
        return len(data)


def envelope_error(status: int, reason: str) -> bytes:
    """A whole HTTP response for an error gunicorn found: the envelope, with a request id."""
    kind = gunicorn_error(status, reason)
    body = json.dumps(
        {"code": 0, "data": {}, "msg": kind.message, "error": kind.key},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-ID: {uuid.uuid4().hex}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class BufferedThreadWorker(ThreadWorker):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = Config.from_env(os.environ)
        self.read_timeout = settings.request_read_timeout
        self.max_body = settings.max_body_bytes
        # Connections still sending their request, oldest first: conn -> deadline.
        self.reading: OrderedDict[TConn, float] = OrderedDict()
        self.probe_pool: futures.ThreadPoolExecutor | None = None

    def init_process(self) -> None:
        self.probe_pool = futures.ThreadPoolExecutor(max_workers=PROBE_THREADS)
        super().init_process()

    def _buffers(self, conn: TConn) -> bool:
        """TLS and HTTP/2 read from the socket themselves; those keep gunicorn's own path."""
        return not self.cfg.is_ssl and not negotiation.prior_knowledge_allowed(
            self.cfg, conn.client
        )

    def _start_reading(self, conn: TConn, readable: bool = False) -> None:
        """Read `conn`'s next request in the event loop; at once when it is `readable`.

        A kept-alive connection that woke the poller usually holds its whole
        next request already: it goes to a thread without another poll.
        """
        conn.sock.setblocking(False)
        conn.buffer = bytearray()
        self.reading[conn] = time.monotonic() + self.read_timeout
        if readable and not self._receive(conn):
            return
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def accept(self, listener: socket.socket) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError:  # another worker took it, or the client is gone
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())
        if self._buffers(conn):
            self._start_reading(conn)
        else:
            client_sock.setblocking(True)
            self.enqueue_req(conn)

    def on_client_socket_readable(self, conn: TConn, client: socket.socket) -> None:
        """A kept-alive connection speaks again: read its next request the same way."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        if self._buffers(conn):
            self._start_reading(conn, readable=True)
        else:
            self.enqueue_req(conn)

    def _unregister(self, conn: TConn) -> None:
        with contextlib.suppress(OSError, KeyError, ValueError):
            self.poller.unregister(conn.sock)

    def _drop(self, conn: TConn) -> None:
        self.reading.pop(conn, None)
        self._unregister(conn)
        self.nr_conns -= 1
        conn.close()

    def _receive(self, conn: TConn) -> bool:
        """Take what has arrived; False once `conn` has left the reading state.

        It leaves when the request is whole (to a thread) or the client has
        gone (closed).
        """
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return False
        conn.buffer += data
        if not request_complete(conn.buffer, self.max_body):
            return True
        self.reading.pop(conn, None)
        self._unregister(conn)
        conn.data_ready = True
        if self.probe_pool is not None and _is_probe(conn.buffer):
            future = self.probe_pool.submit(self.handle, conn)
            future.add_done_callback(
                lambda fut: self.method_queue.defer(self.finish_request, conn, fut)
            )
        else:
            self.enqueue_req(conn)
        return False

    def _on_readable(self, conn: TConn, client: socket.socket) -> None:
        self._receive(conn)

    def handle(self, conn: TConn) -> Any:
        buffered = getattr(conn, "buffer", None)
        if buffered:
            conn.buffer = bytearray()
            conn.init()
            conn.parser.unreader.unread(bytes(buffered))
        return super().handle(conn)

    def murder_keepalived(self, force: bool = False) -> None:
        super().murder_keepalived(force)
        now = time.monotonic()
        while self.reading:
            conn, deadline = next(iter(self.reading.items()))
            if deadline > now and not force:
                break
            self._drop(conn)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """gunicorn picks the status; the body is the envelope, not its HTML page."""
        capture = _Capture()
        super().handle_error(req, capture, addr, exc)
        match = _STATUS_LINE.match(capture.data)
        response = (
            envelope_error(int(match.group(1)), match.group(2).decode("latin-1"))
            if match
            else capture.data
        )
        try:
            client.setblocking(True)
            client.sendall(response)
        except OSError:
            log.debug("could not send the error response")

    def run(self) -> None:
        try:
            super().run()
        finally:
            if self.probe_pool is not None:
                self.probe_pool.shutdown(wait=False)

"""gunicorn's gevent worker, with two of its public methods overridden.

gunicorn documents its async workers as the answer to clients that no
buffering proxy shields, and Cloud Run's public domain is such a place: each
connection costs one greenlet, not one of a few threads, so slow, idle or
stuck clients cannot keep `/healthz` or the API from being answered. The
stock worker already bounds a request head: it reads every head under
`gevent.Timeout(keepalive)`. Two things are added here:

- `handle_request`: a body stalls for at most REQUEST_READ_TIMEOUT. The stock
  worker reads a body (inside the app, through `wsgi.input`) from a blocking
  socket, so a client that announces a body and never sends it would hold its
  greenlet, and delay a graceful stop, forever. The client socket gets a
  timeout for as long as the request is being served; Werkzeug turns a read
  that times out into a 400, and a client that stops reading its answer has
  the write time out the same way. Back between requests, the socket is
  blocking again and the keepalive timeout governs.
- `handle_error`: what gunicorn refuses itself, before the app runs (a
  malformed request line, headers over its limits, bad framing), is answered
  in the service's JSON envelope with a request id, not gunicorn's HTML page.
  gunicorn still chooses the status and logs the refusal.
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

import gevent
from gunicorn.workers.ggevent import GeventWorker

from service.config import Config

log = logging.getLogger(__name__)

_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3}) ([^\r\n]*)")


def envelope_error(status: int, reason: str) -> bytes:
    """A whole HTTP response for an error gunicorn found: the envelope, with a request id."""
    # Imported here: gunicorn's master imports this module to find the worker
    # class, and must not import peewee (service.errors does; see service.create_app).
    from service.errors import gunicorn_error
    from service.request_id import HEADER, new_request_id

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
        f"{HEADER}: {new_request_id()}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class _ErrorPage:
    """Takes the page gunicorn's `handle_error` writes, so that its status can be kept.

    `handle_error` writes to what it is given as the client with the socket
    calls below; the page is then replaced, never sent.
    """

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float | None:
        return None

    def setblocking(self, flag: bool) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.data += data

    def send(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def status(self) -> tuple[int, str] | None:
        match = _STATUS_LINE.match(self.data)
        return (int(match.group(1)), match.group(2).decode("latin-1")) if match else None


class EnvelopeGeventWorker(GeventWorker):  # type: ignore[misc]
    """`worker_class` in gunicorn.conf.py; see the module's docstring for what it adds."""

    def init_process(self) -> None:
        self.body_timeout = Config.from_env(os.environ).request_read_timeout
        super().init_process()

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        sock.settimeout(self.body_timeout)
        try:
            should_close = super().handle_request(listener_name, req, sock, addr)
        except TimeoutError:
            # The answer could not be written: the client stopped reading. gunicorn
            # would log a traceback; one line says it, and StopIteration closes the
            # connection, as gunicorn's own handle_request does for a closing answer.
            log.info("connection closed: the client read nothing for %s s", self.body_timeout)
            raise StopIteration from None
        finally:
            sock.settimeout(None)
        gevent.sleep(0)  # the other connections' turn (see the module's docstring)
        return should_close

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        page = _ErrorPage()
        super().handle_error(req, page, addr, exc)
        status = page.status()
        response = envelope_error(*status) if status else page.data
        try:
            client.settimeout(self.body_timeout)  # a client that never reads cannot hold it
            client.sendall(response)
        except OSError:
            log.debug("could not send the error response: the client has gone")

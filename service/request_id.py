"""A request id for every request: taken from `X-Request-ID` when sane, made otherwise.

The id is returned on every response and stamped on every log line, so a
client's report ("request f3a… failed") leads straight to the server's log.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, Response, g, has_request_context, request

HEADER = "X-Request-ID"
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_request_id() -> str:
    """128 random bits in hex: no two requests share one, and none says anything about another."""
    return secrets.token_hex(16)


def current_request_id() -> str:
    if has_request_context():
        return str(g.get("request_id", "-"))
    return "-"


def _assign() -> None:
    sent = request.headers.get(HEADER, "")
    g.request_id = sent if _ACCEPTABLE.match(sent) else new_request_id()


def _echo(response: Response) -> Response:
    response.headers[HEADER] = current_request_id()
    return response


def init_app(app: Flask) -> None:
    app.before_request(_assign)
    app.after_request(_echo)

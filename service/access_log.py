"""One JSON line per request, written by the app: what Cloud Run's log search works with.

gunicorn's own access log is off (gunicorn.conf.py): it knows neither the
request id nor who the caller is, and two lines per request would double the
cost and the noise.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from service.logs import mask
from service.request_id import current_request_id

log = logging.getLogger("service.access")


def _start() -> None:
    g.started = time.perf_counter()


def _record(response: Response) -> Response:
    if not log.isEnabledFor(logging.INFO):
        return response
    started = g.get("started")
    elapsed = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    method, path, status = request.method, request.path, response.status_code
    entry: dict[str, object] = {
        "method": method,
        "path": path,  # never the query string: it may carry a token
        "status": status,
        "duration_ms": round(elapsed, 2),
        "request_id": current_request_id(),
    }
    openid = g.get("openid")
    if openid:
        entry["openid"] = mask(openid)
    # The record made here rather than by `log.info`, which would walk the stack
    # to find this line's caller: a third of the line's cost, for fields the
    # JSON line never shows.
    record = log.makeRecord(
        log.name, logging.INFO, __file__, 0, "%s %s %s", (method, path, status), None, extra=entry
    )
    log.handle(record)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_record)

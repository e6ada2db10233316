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
    started = g.get("started")
    elapsed = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    entry: dict[str, object] = {
        "method": request.method,
        "path": request.path,  # never the query string: it may carry a token
        "status": response.status_code,
        "duration_ms": round(elapsed, 2),
        "request_id": current_request_id(),
    }
    openid = g.get("openid")
    if openid:
        entry["openid"] = mask(openid)
    log.info("%s %s %s", request.method, request.path, response.status_code, extra=entry)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_record)

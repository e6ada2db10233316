"""Health checks: `/healthz` says the process answers, `/readyz` that it can reach its data.

Cloud Run and the container's HEALTHCHECK restart on `/healthz`; a load
balancer stops routing on `/readyz`. Keeping them apart means a database
outage takes instances out of rotation without restarting every one of them.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from service import db
from service.envelope import success
from service.errors import DATABASE_UNAVAILABLE, error_response

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return success({"status": "ok"})


#: A probe answers within this, whatever the database does (MYSQL_READ_TIMEOUT is longer).
READY_DEADLINE = 1.5


@bp.get("/readyz")
def readyz() -> Response:
    check: db.ReadinessCheck = current_app.extensions.setdefault(
        "readiness", db.ReadinessCheck(READY_DEADLINE)
    )
    if not check.ready():
        return error_response(DATABASE_UNAVAILABLE)
    return success({"status": "ready", "database": db.dialect()})

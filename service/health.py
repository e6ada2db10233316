"""Health checks: `/healthz` says the process answers, `/readyz` that it can serve its data.

Cloud Run and the container's HEALTHCHECK restart on `/healthz`; a load
balancer stops routing on `/readyz`. Keeping them apart means a database
outage takes instances out of rotation without restarting every one of them.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from service import db, migrations
from service.envelope import success
from service.errors import DATABASE_UNAVAILABLE, SCHEMA_NOT_READY, error_response

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return success({"status": "ok"})


#: A probe answers within this, whatever the database does (MYSQL_READ_TIMEOUT is longer).
READY_DEADLINE = 1.5


class SchemaBehind(Exception):
    """The database lacks migrations this code needs (all of them, before `flask db upgrade`)."""


class Readiness:
    """The database answers, and holds every migration this code ships.

    Every API call on a database without its tables answers 503
    schema_not_ready, so an instance is not ready until the migrations ran.
    Once the schema was found current it stays so for this process (nothing
    but an operator's `flask db downgrade` takes a migration away), and each
    probe is then the one ping again.
    """

    def __init__(self) -> None:
        self.schema_current = False
        self.check = db.ReadinessCheck(READY_DEADLINE, probe=self._probe)

    def _probe(self) -> None:
        db.ping()
        if self.schema_current:
            return
        missing = migrations.pending()
        if missing:
            raise SchemaBehind(", ".join(missing))
        self.schema_current = True


@bp.get("/readyz")
def readyz() -> Response:
    readiness: Readiness | None = current_app.extensions.get("readiness")
    if readiness is None:  # the first probe: setdefault keeps one if two race here
        readiness = current_app.extensions.setdefault("readiness", Readiness())
    try:
        ready = readiness.check.ready()
    except SchemaBehind:
        return error_response(SCHEMA_NOT_READY)
    if not ready:
        return error_response(DATABASE_UNAVAILABLE)
    return success({"status": "ready", "database": db.dialect()})

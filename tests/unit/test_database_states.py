"""A database without tables (or behind the code) is not "unavailable" but not ready either,
and what a log line says (rerun on MySQL)."""

from __future__ import annotations

import pytest
from flask import Flask

from service import db, migrations
from service.db import driver_error
from tests.support.apps import AppFactory

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


@pytest.fixture
def unmigrated(make_app: AppFactory) -> Flask:
    """The app on an empty database: nobody ran `flask db upgrade`."""
    return make_app(migrated=False)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/api/count", None), ("POST", "/api/count", {"action": "inc"})],
)
def test_no_tables_is_503_schema_not_ready_with_one_line_saying_what_to_do(
    unmigrated: Flask,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    response = unmigrated.test_client().open(path, method=method, json=body)
    assert (response.status_code, response.json["error"]) == (503, "schema_not_ready")
    assert response.json["msg"] == "数据库尚未初始化，请稍后重试"
    said = [r for r in caplog.records if "flask db upgrade" in r.getMessage()]
    assert len(said) == 1
    assert "AUTO_MIGRATE" in said[0].getMessage()
    assert not said[0].exc_info  # one line, no traceback


def test_not_ready_while_the_schema_is_missing_and_the_probe_creates_nothing(
    unmigrated: Flask,
) -> None:
    response = unmigrated.test_client().get("/readyz")
    assert (response.status_code, response.json["error"]) == (503, "schema_not_ready")
    with unmigrated.app_context():
        assert db.database.get_tables() == []


def test_not_ready_while_a_migration_is_pending_then_ready_once_applied(
    unmigrated: Flask,
) -> None:
    client = unmigrated.test_client()
    with unmigrated.app_context():
        migrations.upgrade()
        (rolled,) = migrations.downgrade(1)
    behind = client.get("/readyz")
    assert (behind.status_code, behind.json["error"]) == (503, "schema_not_ready")
    with unmigrated.app_context():
        assert migrations.pending() == [rolled]
        migrations.upgrade()
    assert client.get("/readyz").status_code == 200


def test_a_schema_found_current_is_not_read_again(unmigrated: Flask) -> None:
    """Probes come every few seconds: once current, each is one ping. Only an operator's
    downgrade takes a migration away, and then this process keeps answering ready."""
    client = unmigrated.test_client()
    with unmigrated.app_context():
        migrations.upgrade()
    assert client.get("/readyz").status_code == 200
    with unmigrated.app_context():
        migrations.downgrade(1)
    assert client.get("/readyz").status_code == 200


def test_a_database_that_cannot_be_reached_logs_the_drivers_code(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(
        migrated=False, database_url="mysql://nobody@127.0.0.1:9/none", mysql_wake_timeout=0.2
    )
    response = app.test_client().get("/api/count")
    assert (response.status_code, response.json["error"]) == (503, "database_unavailable")
    (line,) = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
    assert "OperationalError 2003" in line
    assert "refused" in line.lower()


def test_driver_error_reads_peewee_and_driver_errors_alike() -> None:
    import peewee as pw
    import pymysql

    inner = pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
    assert driver_error(pw.OperationalError(inner, *inner.args)) == (
        2013,
        "Lost connection to MySQL server during query",
    )
    assert driver_error(inner) == (2013, "Lost connection to MySQL server during query")
    assert driver_error(pw.OperationalError("no such table: Counters")) == (
        None,
        "no such table: Counters",
    )

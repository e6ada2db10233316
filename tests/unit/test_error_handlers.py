"""service/errors.py's handlers, each reached by a view that fails the way a real one can:
the envelope and status a client gets, and the one log line an operator gets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import peewee as pw
import pytest
from flask import Flask, abort
from flask.testing import FlaskClient

from service.errors import ErrorKind, gunicorn_error
from tests.support.apps import AppFactory


def failing(make_app: AppFactory, view: Callable[[], object]) -> FlaskClient:
    """The app with one more route, /api/_failing, that runs `view`."""
    app: Flask = make_app()
    app.add_url_rule("/api/_failing", "failing", view, methods=["GET", "POST"])
    return app.test_client()


def raises(error: BaseException) -> Callable[[], object]:
    def view() -> object:
        raise error

    return view


@pytest.mark.parametrize(("status", "name"), [(410, "Gone"), (418, "I'm a teapot")])
def test_an_http_error_without_a_kind_of_its_own_is_http_error(
    make_app: AppFactory, status: int, name: str
) -> None:
    client = failing(make_app, lambda: abort(status))
    response = client.get("/api/_failing")
    assert (response.status_code, response.json) == (
        status,
        {"code": 0, "data": {}, "msg": name, "error": "http_error"},
    )


def test_a_wrong_method_on_api_names_the_allowed_ones(client: FlaskClient) -> None:
    response = client.delete("/api/count")
    assert (response.status_code, response.json["error"]) == (405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_gunicorns_other_statuses_keep_their_status_and_reason() -> None:
    assert gunicorn_error(501, "Not Implemented") == ErrorKind(501, "http_error", "Not Implemented")
    assert gunicorn_error(431, "x").key == "headers_too_large"


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "service.errors" and r.levelno == level]


def test_a_missing_table_reported_as_a_programming_error_is_schema_not_ready(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """MySQL reports a missing table (1146) as a ProgrammingError, SQLite as OperationalError."""
    client = failing(make_app, raises(pw.ProgrammingError(1146, "Table 'x.users' doesn't exist")))
    response = client.get("/api/_failing", headers={"X-Request-ID": "req-no-table"})
    assert (response.status_code, response.json["error"]) == (503, "schema_not_ready")
    (line,) = records(caplog, logging.ERROR)
    assert line.getMessage() == (
        "database has no tables yet (Table 'x.users' doesn't exist): "
        "run `flask db upgrade` or set AUTO_MIGRATE=true"
    )
    assert line.request_id == "req-no-table"  # type: ignore[attr-defined]


def test_any_other_programming_error_is_an_internal_error(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = failing(make_app, raises(pw.ProgrammingError(1064, "You have an error in your SQL")))
    response = client.post("/api/_failing", headers={"X-Request-ID": "req-bad-sql"})
    assert (response.status_code, response.json["error"]) == (500, "internal_error")
    assert b"SQL" not in response.data
    (line,) = records(caplog, logging.ERROR)
    assert line.getMessage() == "unhandled ProgrammingError on POST /api/_failing"
    assert line.request_id == "req-bad-sql"  # type: ignore[attr-defined]
    assert line.exc_info is not None


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            pw.OperationalError(2003, "Can't connect to MySQL server"),
            "database unavailable: OperationalError 2003 Can't connect to MySQL server",
        ),
        (
            pw.InterfaceError("(0, '')"),
            "database unavailable: InterfaceError - (0, '')",
        ),
    ],
)
def test_an_unavailable_database_is_said_with_the_drivers_code(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture, error: Exception, said: str
) -> None:
    client = failing(make_app, raises(error))
    response = client.get("/api/_failing", headers={"X-Request-ID": "req-down"})
    assert (response.status_code, response.json["error"]) == (503, "database_unavailable")
    (line,) = records(caplog, logging.WARNING)
    assert line.getMessage() == said
    assert line.request_id == "req-down"  # type: ignore[attr-defined]

"""Failures nobody asked for: a crash, a database that is not there, request ids."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import counter, create_app, db
from service.config import Config
from tests.support.databases import Database
from tests.support.net import free_port

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


def _crash() -> int:
    raise RuntimeError("secret internal detail: password=hunter2")


def test_unexpected_exception_is_500_without_internals(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(counter, "current", _crash)
    response = client.get("/api/count", headers={"X-Request-ID": "req-crash-1"})
    assert response.status_code == 500
    assert response.json == {
        "code": 0,
        "data": {},
        "msg": "服务器内部错误",
        "error": "internal_error",
    }
    assert b"hunter2" not in response.data
    assert response.headers["X-Request-ID"] == "req-crash-1"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].request_id == "req-crash-1"  # type: ignore[attr-defined]
    assert errors[0].exc_info is not None


def test_index_crash_is_a_500_page_not_an_envelope(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counter, "current", _crash)
    response = client.get("/")
    assert response.status_code == 500
    assert b"hunter2" not in response.data


@pytest.fixture
def unreachable_app() -> Flask:
    """MySQL on a loopback port where nothing listens: connections are refused at once.

    Not retried (MYSQL_WAKE_TIMEOUT=0): waiting out a waking server has tests of its own.
    """
    config = Config(
        mysql_address=f"127.0.0.1:{free_port()}", mysql_connect_timeout=1, mysql_wake_timeout=0
    )
    app = create_app(config)
    yield app
    db.dispose()


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [("get", {}), ("post", {"json": {"action": "inc"}}), ("post", {"json": {"action": "clear"}})],
)
def test_unreachable_database_is_503(unreachable_app: Flask, method: str, kwargs: dict) -> None:  # type: ignore[type-arg]
    response = getattr(unreachable_app.test_client(), method)("/api/count", **kwargs)
    assert response.status_code == 503
    assert response.json == {
        "code": 0,
        "data": {},
        "msg": "数据库暂时不可用，请稍后重试",
        "error": "database_unavailable",
    }


def test_not_ready_while_the_database_is_unreachable(unreachable_app: Flask) -> None:
    response = unreachable_app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["error"] == "database_unavailable"


def test_ready_when_the_database_answers(client: FlaskClient, database: Database) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["data"] == {"status": "ready", "database": database.kind}


def test_liveness_needs_no_database(unreachable_app: Flask) -> None:
    response = unreachable_app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"code": 1, "data": {"status": "ok"}, "msg": "success"}


def test_request_id_is_generated_when_absent(client: FlaskClient) -> None:
    first = client.get("/api/count").headers["X-Request-ID"]
    second = client.get("/api/count").headers["X-Request-ID"]
    assert len(first) == 32
    assert first != second


@pytest.mark.parametrize("sent", ["", "has space", "x" * 129, "semi;colon", "新"])
def test_unsafe_request_id_is_replaced(client: FlaskClient, sent: str) -> None:
    returned = client.get("/api/count", headers={"X-Request-ID": sent}).headers["X-Request-ID"]
    assert returned != sent
    assert len(returned) == 32


def test_request_id_is_returned_on_errors(client: FlaskClient) -> None:
    response = client.get("/api/nope", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"


def test_log_lines_are_json_with_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    from service.logs import JsonFormatter

    record = logging.makeLogRecord(
        {"name": "service.x", "levelname": "WARNING", "msg": "hi %s", "args": ("you",)}
    )
    record.request_id = "r1"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "hi you"
    assert entry["request_id"] == "r1"
    assert entry["level"] == "WARNING"

"""Statements per request on the hot paths: the ceiling a deployment's database sets.

Every statement peewee sends passes through the database's `execute_sql`, so
wrapping that method of the app's database object counts them (a ping of a
connection that idled in the pool is not a statement and is not counted).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from service import db, ratelimit
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import bearer, login

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


@pytest.fixture
def statements(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of each statement the app sends from now on."""
    sent: list[str] = []
    real = db.database.obj
    execute_sql: Callable[..., Any] = real.execute_sql

    def counting(sql: str, params: Any = None) -> Any:
        sent.append(sql)
        return execute_sql(sql, params)

    monkeypatch.setattr(real, "execute_sql", counting)
    return sent


def test_a_counter_read_is_one_statement(client: FlaskClient, statements: list[str]) -> None:
    assert client.get("/api/count").status_code == 200
    assert len(statements) == 1, statements


def test_an_increment_is_one_statement(client: FlaskClient, statements: list[str]) -> None:
    client.post("/api/count", json={"action": "inc"})  # the first ever also creates the row
    statements.clear()
    response = client.post("/api/count", json={"action": "inc"})
    assert response.json["data"] == 2
    assert len(statements) == 1, statements


def test_a_signed_in_profile_read_is_one_statement(
    client: FlaskClient, fake_wechat: FakeWeChat, statements: list[str]
) -> None:
    token = login(client, fake_wechat, "oTrips")["token"]
    statements.clear()
    assert client.get("/api/user/profile", headers=bearer(token)).status_code == 200
    assert len(statements) == 1, statements


def test_a_profile_edit_is_at_most_two_statements(
    client: FlaskClient, fake_wechat: FakeWeChat, statements: list[str]
) -> None:
    token = login(client, fake_wechat, "oTripsEdit")["token"]
    statements.clear()
    response = client.patch("/api/user/profile", json={"nickname": "新名字"}, headers=bearer(token))
    assert response.json["data"]["nickname"] == "新名字"
    assert len(statements) <= 2, statements


def test_a_login_is_at_most_six_statements(
    client: FlaskClient,
    fake_wechat: FakeWeChat,
    statements: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not the rate limits' housekeeping: one DELETE per process every PURGE_EVERY seconds.
    monkeypatch.setattr(ratelimit, "_next_purge", math.inf)
    login(client, fake_wechat, "oTripsLogin")  # first login, creating the user
    first = len(statements)
    login(client, fake_wechat, "oTripsLogin")
    assert first <= 6, statements[:first]
    assert len(statements) - first <= 6, statements[first:]

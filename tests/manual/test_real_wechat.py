"""Against the real WeChat API, with the credentials from .env.manual or the environment.

Run with `nox -s manual`. The service runs in-process on SQLite in memory;
only WeChat is real.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from flask import Flask

from service import create_app, db, migrations
from service.config import Config

pytestmark = pytest.mark.wechat


@pytest.fixture
def real_app() -> Iterator[Flask]:
    env = {**os.environ, "DATABASE_URL": "sqlite:///:memory:"}
    env.setdefault("TOKEN_SECRET", secrets.token_urlsafe(48))
    app = create_app(Config.from_env(env))
    migrations.upgrade()
    yield app
    db.dispose()


def test_an_invalid_code_is_refused_as_invalid_code(real_app: Flask) -> None:
    response = real_app.test_client().post(
        "/api/login", json={"code": f"not-a-real-code-{secrets.token_hex(4)}"}
    )
    assert response.status_code == 400, response.json
    assert response.json["error"] == "invalid_code"


def test_stable_token_is_issued_for_these_credentials(real_app: Flask) -> None:
    client = real_app.extensions["wechat"]
    token = client.access_token()
    assert token
    assert client.access_token() == token  # cached, not fetched again


@pytest.mark.skipif(
    not os.environ.get("TEST_LOGIN_CODE"),
    reason="TEST_LOGIN_CODE not set: get a fresh wx.login() code (valid 5 minutes, once)",
)
def test_a_real_login_returns_a_token_that_reads_the_caller(real_app: Flask) -> None:
    client = real_app.test_client()
    login = client.post("/api/login", json={"code": os.environ["TEST_LOGIN_CODE"]})
    assert login.status_code == 200, login.json
    token = login.json["data"]["token"]
    me = client.get("/api/user/profile", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json["data"]["id"] == login.json["data"]["user_id"]
    assert me.json["data"]["openid"]

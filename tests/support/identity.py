"""Signing in through the API, as a mini program would, for tests."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.support.fake_wechat import FakeWeChat


def login(
    client: FlaskClient, fake: FakeWeChat, openid: str | None = None, **extra: Any
) -> dict[str, Any]:
    """POST /api/login with a fresh code for `openid`; the response's data."""
    response = client.post("/api/login", json={"code": fake.login_code(openid), **extra})
    assert response.status_code == 200, response.json
    data: dict[str, Any] = response.json["data"]
    return data


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

"""Signing in over real HTTP: gunicorn, MySQL, and the protocol-level fake WeChat."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.support.fake_wechat import FakeWeChat
from tests.support.live_server import LiveServer


class Api:
    def __init__(self, server: LiveServer) -> None:
        self.url = server.url
        self.http = requests.Session()

    def call(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.request(
            method, f"{self.url}{path}", headers=headers, timeout=10, **kwargs
        )
        return response.status_code, response.json()

    def login(self, code: str) -> dict[str, Any]:
        status, body = self.call("POST", "/api/login", json={"code": code})
        assert status == 200, body
        data: dict[str, Any] = body["data"]
        return data

    def refresh(self, raw: str) -> tuple[int, dict[str, Any]]:
        return self.call("POST", "/api/refresh_token", json={"refresh_token": raw})


@pytest.fixture
def api(live_server: LiveServer, fake_wechat: FakeWeChat) -> Api:
    return Api(live_server)


def test_login_refresh_reuse_login_logout(api: Api, fake_wechat: FakeWeChat) -> None:
    first = api.login(fake_wechat.login_code("oLiveUser", unionid="uLive"))
    assert first["is_new_user"] is True

    status, me = api.call("GET", "/api/user/profile", first["token"])
    assert status == 200
    assert (me["data"]["openid"], me["data"]["unionid"]) == ("oLiveUser", "uLive")

    status, rotated = api.refresh(first["refresh_token"])
    assert status == 200
    second = rotated["data"]
    assert api.call("GET", "/api/user/profile", second["token"])[0] == 200

    status, reused = api.refresh(first["refresh_token"])
    assert (status, reused["error"]) == (401, "token_invalid")
    assert api.refresh(second["refresh_token"])[0] == 401  # the family is revoked
    assert api.call("GET", "/api/user/profile", second["token"])[0] == 401

    again = api.login(fake_wechat.login_code("oLiveUser"))
    assert (again["is_new_user"], again["user_id"]) == (False, first["user_id"])
    assert api.call("POST", "/api/logout", again["token"]) == (
        200,
        {"code": 1, "data": {}, "msg": "success"},
    )
    status, after = api.refresh(again["refresh_token"])
    assert (status, after["error"]) == (401, "token_invalid")


@pytest.mark.parametrize(
    ("errcode", "status", "error"),
    [
        (None, 400, "invalid_code"),
        (45011, 429, "wechat_rate_limited"),
        (40226, 403, "wechat_risky_user"),
        (-1, 502, "wechat_unavailable"),
    ],
)
def test_wechat_answers_over_http(
    api: Api, fake_wechat: FakeWeChat, errcode: int | None, status: int, error: str
) -> None:
    code = "never-issued" if errcode is None else fake_wechat.login_code(errcode=errcode)
    got, body = api.call("POST", "/api/login", json={"code": code})
    assert (got, body["error"], body["code"]) == (status, error, 0)


def test_wechat_timeout_over_http(api: Api, fake_wechat: FakeWeChat) -> None:
    got, body = api.call("POST", "/api/login", json={"code": fake_wechat.login_code(stall=1.5)})
    assert (got, body["error"]) == (502, "wechat_unavailable")


def test_concurrent_first_logins_make_one_user(
    live_server: LiveServer, fake_wechat: FakeWeChat
) -> None:
    """Twelve devices of one person logging in at once: exactly one user is created."""
    codes = [fake_wechat.login_code("oRacing") for _ in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda code: Api(live_server).login(code), codes))
    assert len({r["user_id"] for r in results}) == 1
    assert sum(1 for r in results if r["is_new_user"]) == 1


def test_no_secret_in_the_server_output(
    live_server: LiveServer, api: Api, fake_wechat: FakeWeChat
) -> None:
    data = api.login(fake_wechat.login_code("oQuietLiveOpenid0123456789"))
    api.refresh(data["refresh_token"])
    output = live_server.output()
    assert "code2session ok" in output
    for value in (
        *fake_wechat.issued_session_keys,
        live_server.env["TOKEN_SECRET"],
        live_server.env["WX_SECRET"],
        "oQuietLiveOpenid0123456789",
        data["token"],
        data["refresh_token"],
    ):
        assert value not in output

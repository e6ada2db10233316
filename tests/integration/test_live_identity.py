"""Signing in over real HTTP: gunicorn, MySQL, and the protocol-level fake WeChat."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import Reply, Transport, attempt_login, bearer, login, over_http
from tests.support.live_server import LiveServer


@pytest.fixture
def api(live_server: LiveServer) -> Transport:
    return over_http(live_server.url)


def refresh(api: Transport, raw: str) -> Reply:
    return api("POST", "/api/refresh_token", json={"refresh_token": raw})


def test_login_refresh_reuse_login_logout(api: Transport, fake_wechat: FakeWeChat) -> None:
    first = login(api, fake_wechat, code=fake_wechat.login_code("oLiveUser", unionid="uLive"))
    assert first["is_new_user"] is True

    me = api("GET", "/api/user/profile", bearer(first["token"]))
    assert me.status == 200
    assert (me.body["data"]["openid"], me.body["data"]["unionid"]) == ("oLiveUser", "uLive")

    rotated = refresh(api, first["refresh_token"])
    assert rotated.status == 200
    second = rotated.body["data"]
    assert api("GET", "/api/user/profile", bearer(second["token"])).status == 200

    reused = refresh(api, first["refresh_token"])
    assert (reused.status, reused.body["error"]) == (401, "token_invalid")
    assert refresh(api, second["refresh_token"]).status == 401  # the family is revoked
    assert api("GET", "/api/user/profile", bearer(second["token"])).status == 401

    again = login(api, fake_wechat, "oLiveUser")
    assert (again["is_new_user"], again["user_id"]) == (False, first["user_id"])
    out = api("POST", "/api/logout", bearer(again["token"]))
    assert (out.status, out.body) == (200, {"code": 1, "data": {}, "msg": "success"})
    after = refresh(api, again["refresh_token"])
    assert (after.status, after.body["error"]) == (401, "token_invalid")


def test_openids_differing_only_in_case_are_three_users_over_http(
    api: Transport, fake_wechat: FakeWeChat
) -> None:
    """The one case the unit suite's SQLite cannot show: MySQL's collation decides."""
    spellings = ("oLiveCaseAbC", "oLiveCaseabc", "OLIVECASEABC")
    grants = [login(api, fake_wechat, openid) for openid in spellings]
    assert [grant["is_new_user"] for grant in grants] == [True, True, True]
    assert len({grant["user_id"] for grant in grants}) == 3
    seen = [
        api("GET", "/api/user/profile", bearer(g["token"])).body["data"]["openid"] for g in grants
    ]
    assert seen == list(spellings)


def test_an_over_long_openid_or_phone_number_is_a_502_over_http(
    api: Transport, fake_wechat: FakeWeChat
) -> None:
    refused = attempt_login(api, fake_wechat, "o" * 65)
    assert (refused.status, refused.body["code"], refused.body["error"]) == (
        502,
        0,
        "wechat_bad_response",
    )
    me = login(api, fake_wechat, "oLiveLongPhone")
    code = fake_wechat.phone_code("+86" + "1" * 30)
    bound = api("POST", "/api/user/phone", bearer(me["token"]), json={"code": code})
    assert (bound.status, bound.body["error"]) == (502, "wechat_bad_response")
    profile = api("GET", "/api/user/profile", bearer(me["token"])).body["data"]
    assert profile["phone_number"] is None


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
    api: Transport, fake_wechat: FakeWeChat, errcode: int | None, status: int, error: str
) -> None:
    code = "never-issued" if errcode is None else fake_wechat.login_code(errcode=errcode)
    got = attempt_login(api, fake_wechat, code=code)
    assert (got.status, got.body["error"], got.body["code"]) == (status, error, 0)


def test_wechat_timeout_over_http(api: Transport, fake_wechat: FakeWeChat) -> None:
    got = attempt_login(api, fake_wechat, code=fake_wechat.login_code(stall=1.5))
    assert (got.status, got.body["error"]) == (502, "wechat_unavailable")


def test_concurrent_first_logins_make_one_user(
    live_server: LiveServer, fake_wechat: FakeWeChat
) -> None:
    """Twelve devices of one person logging in at once: exactly one user is created."""
    codes = [fake_wechat.login_code("oRacing") for _ in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(
            pool.map(lambda code: login(over_http(live_server.url), fake_wechat, code=code), codes)
        )
    assert len({r["user_id"] for r in results}) == 1
    assert sum(1 for r in results if r["is_new_user"]) == 1


def test_no_secret_in_the_server_output(
    live_server: LiveServer, api: Transport, fake_wechat: FakeWeChat
) -> None:
    data = login(api, fake_wechat, "oQuietLiveOpenid0123456789")
    refresh(api, data["refresh_token"])
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

"""Login, refresh, logout and identity headers, through the API (rerun on MySQL)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.config import MAX_LIFETIME
from service.models import AuthSession, RefreshToken, Status, User, utcnow
from tests.support.apps import AppFactory
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import attempt_login, bearer, login

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


Answer = tuple[int, dict[str, Any]]
Ask = Callable[[FlaskClient, FakeWeChat, dict[str, Any]], Answer]


def profile(client: FlaskClient, token: str) -> Answer:
    response = client.get("/api/user/profile", headers=bearer(token))
    return response.status_code, dict(response.json)


def refresh(client: FlaskClient, raw: str) -> Answer:
    response = client.post("/api/refresh_token", json={"refresh_token": raw})
    return response.status_code, dict(response.json)


def test_first_login_creates_the_user(client: FlaskClient, fake_wechat: FakeWeChat) -> None:
    data = login(
        client, fake_wechat, "oFirst", nickname="小明", avatar_url="https://a.example/x.png"
    )
    assert data["is_new_user"] is True
    assert (data["role"], data["role_name"], data["is_verified"]) == (1, "solo", False)
    assert data["expires_in"] == 7200
    assert isinstance(data["token"], str)
    assert isinstance(data["refresh_token"], str)
    user = User.get_by_id(data["user_id"])
    assert (user.openid, user.nickname, user.avatar_url) == (
        "oFirst",
        "小明",
        "https://a.example/x.png",
    )


def test_login_again_finds_the_same_user(client: FlaskClient, fake_wechat: FakeWeChat) -> None:
    first = login(client, fake_wechat, "oAgain")
    second = login(client, fake_wechat, "oAgain")
    assert second["is_new_user"] is False
    assert second["user_id"] == first["user_id"]
    assert User.select().where(User.openid == "oAgain").count() == 1


def test_token_reads_the_callers_identity(client: FlaskClient, fake_wechat: FakeWeChat) -> None:
    data = login(client, fake_wechat, "oProfile", nickname="emoji 😀")
    status, body = profile(client, data["token"])
    assert status == 200
    me = body["data"]
    assert isinstance(me, dict)
    assert (me["id"], me["openid"], me["nickname"]) == (data["user_id"], "oProfile", "emoji 😀")
    assert (me["status"], me["status_name"]) == (1, "normal")
    assert "session_key" not in me


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({}, 400, "missing_parameter"),
        ({"code": ""}, 400, "invalid_parameter"),
        ({"code": 123}, 400, "invalid_parameter"),
        ({"code": "x" * 129}, 400, "invalid_parameter"),
        ({"code": "c", "nickname": "n" * 65}, 400, "invalid_parameter"),
        ({"code": "c", "nickname": 5}, 400, "invalid_parameter"),
        ({"code": "c", "avatar_url": "http://insecure.example/a.png"}, 400, "invalid_parameter"),
        ({"code": "c", "avatar_url": "https://" + "a" * 505}, 400, "invalid_parameter"),
        ({"code": "never-issued"}, 400, "invalid_code"),
    ],
)
def test_bad_login_requests_create_nobody(
    client: FlaskClient, body: dict[str, object], status: int, error: str
) -> None:
    response = client.post("/api/login", json=body)
    assert response.status_code == status
    assert response.json["error"] == error
    assert response.json["code"] == 0
    assert User.select().count() == 0


def test_a_code_works_once(client: FlaskClient, fake_wechat: FakeWeChat) -> None:
    code = fake_wechat.login_code("oOnce")
    assert client.post("/api/login", json={"code": code}).status_code == 200
    again = client.post("/api/login", json={"code": code})
    assert (again.status_code, again.json["error"]) == (400, "invalid_code")


@pytest.mark.parametrize(
    ("errcode", "status", "error"),
    [
        (45011, 429, "wechat_rate_limited"),
        (40226, 403, "wechat_risky_user"),
        (-1, 502, "wechat_unavailable"),
    ],
)
def test_wechat_refusals_reach_the_client(
    client: FlaskClient, fake_wechat: FakeWeChat, errcode: int, status: int, error: str
) -> None:
    response = client.post("/api/login", json={"code": fake_wechat.login_code(errcode=errcode)})
    assert (response.status_code, response.json["error"]) == (status, error)
    assert User.select().count() == 0


def test_refresh_rotates_and_the_old_token_dies(
    client: FlaskClient, fake_wechat: FakeWeChat
) -> None:
    data = login(client, fake_wechat, "oRotate")
    status, body = refresh(client, data["refresh_token"])
    assert status == 200
    fresh = body["data"]
    assert isinstance(fresh, dict)
    assert fresh["refresh_token"] != data["refresh_token"]
    assert profile(client, fresh["token"])[0] == 200
    status, body = refresh(client, fresh["refresh_token"])
    assert status == 200


def test_reusing_a_rotated_token_revokes_its_whole_family(
    client: FlaskClient, fake_wechat: FakeWeChat
) -> None:
    data = login(client, fake_wechat, "oTheft")
    _, body = refresh(client, data["refresh_token"])
    fresh = body["data"]
    assert isinstance(fresh, dict)

    status, body = refresh(client, data["refresh_token"])  # the stolen, already-used token
    assert (status, body["error"]) == (401, "token_invalid")
    # The legitimate holder's newer tokens die with the family, access token included.
    assert refresh(client, str(fresh["refresh_token"]))[0] == 401
    assert profile(client, str(fresh["token"]))[0] == 401
    assert profile(client, data["token"])[0] == 401
    # Another login of the same user is a different family and unaffected.
    other = login(client, fake_wechat, "oTheft")
    assert profile(client, other["token"])[0] == 200


def test_logout_ends_the_session(client: FlaskClient, fake_wechat: FakeWeChat) -> None:
    data = login(client, fake_wechat, "oLogout")
    response = client.post("/api/logout", headers=bearer(data["token"]))
    assert response.json == {"code": 1, "data": {}, "msg": "success"}
    assert refresh(client, data["refresh_token"])[1]["error"] == "token_invalid"
    assert profile(client, data["token"])[0] == 401


def test_logout_needs_a_token(client: FlaskClient) -> None:
    response = client.post("/api/logout")
    assert (response.status_code, response.json["error"]) == (401, "token_missing")


def test_expired_refresh_token(client: FlaskClient, fake_wechat: FakeWeChat) -> None:
    data = login(client, fake_wechat, "oOld")
    RefreshToken.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    status, body = refresh(client, data["refresh_token"])
    assert (status, body["error"]) == (401, "token_expired")


@pytest.mark.parametrize(
    ("raw", "status", "error"),
    [
        ("", 400, "invalid_parameter"),
        ("x" * 257, 400, "invalid_parameter"),
        ("not-a-token-we-issued", 401, "token_invalid"),
    ],
)
def test_unknown_refresh_tokens(client: FlaskClient, raw: str, status: int, error: str) -> None:
    assert refresh(client, raw)[0] == status
    assert refresh(client, raw)[1]["error"] == error


def test_refresh_tokens_are_stored_as_their_sha256(
    client: FlaskClient, fake_wechat: FakeWeChat
) -> None:
    data = login(client, fake_wechat, "oHashed")
    stored = [row.token_hash for row in RefreshToken.select()]
    assert stored == [hashlib.sha256(data["refresh_token"].encode("utf-8")).hexdigest()]


def ask_for_the_profile(client: FlaskClient, _: FakeWeChat, data: dict[str, Any]) -> Answer:
    return profile(client, data["token"])


def ask_for_a_new_token(client: FlaskClient, _: FakeWeChat, data: dict[str, Any]) -> Answer:
    return refresh(client, data["refresh_token"])


def log_in_again(client: FlaskClient, fake: FakeWeChat, data: dict[str, Any]) -> Answer:
    reply = attempt_login(client, fake, data["openid"])
    return reply.status, reply.body


#: What a user who signed in once can ask again, with each credential it holds: once the
#: user is disabled each is 403 user_disabled; once deleted, each token is token_invalid.
TOKEN_ASKS = [ask_for_the_profile, ask_for_a_new_token]
ASKS = [*TOKEN_ASKS, log_in_again]


@pytest.fixture
def signed_in(client: FlaskClient, fake_wechat: FakeWeChat) -> dict[str, Any]:
    return {**login(client, fake_wechat, "oStanding"), "openid": "oStanding"}


@pytest.mark.parametrize("ask", ASKS)
def test_a_disabled_user_gets_403_user_disabled(
    client: FlaskClient, fake_wechat: FakeWeChat, signed_in: dict[str, Any], ask: Ask
) -> None:
    User.update(status=int(Status.DISABLED)).where(User.id == signed_in["user_id"]).execute()
    status, body = ask(client, fake_wechat, signed_in)
    assert (status, body["error"], body["msg"]) == (403, "user_disabled", "用户已被禁用")


@pytest.mark.parametrize("ask", TOKEN_ASKS)
def test_a_deleted_users_tokens_are_token_invalid(
    client: FlaskClient, fake_wechat: FakeWeChat, signed_in: dict[str, Any], ask: Ask
) -> None:
    RefreshToken.delete().execute()
    AuthSession.delete().execute()
    User.delete().where(User.id == signed_in["user_id"]).execute()
    status, body = ask(client, fake_wechat, signed_in)
    assert (status, body["error"]) == (401, "token_invalid")


def test_cloud_headers_are_ignored_unless_trusted(client: FlaskClient) -> None:
    response = client.get("/api/user/profile", headers={"X-WX-OPENID": "oForged"})
    assert (response.status_code, response.json["error"]) == (401, "token_missing")
    assert User.select().count() == 0
    response = client.get("/api/wx_openid", headers={"X-WX-OPENID": "oForged"})
    assert (response.status_code, response.json["error"]) == (403, "cloud_identity_disabled")


@pytest.fixture
def trusting_app(make_app: AppFactory) -> Flask:
    return make_app(wx_trust_cloud_headers=True)


#: What Cloud Run's gateway adds to a request from the mini program (wx.cloud.callContainer).
CLOUD = {
    "X-WX-OPENID": "oCloud",
    "X-WX-UNIONID": "uCloud",
    "X-WX-APPID": "wxapp",
    "X-WX-SOURCE": "wx_client",
}


def test_trusted_cloud_headers_sign_in_and_create_the_user(trusting_app: Flask) -> None:
    response = trusting_app.test_client().get("/api/user/profile", headers=CLOUD)
    assert response.status_code == 200
    me = response.json["data"]
    assert (me["openid"], me["unionid"]) == ("oCloud", "uCloud")
    user = User.get(User.openid == "oCloud")
    assert (user.id, user.unionid) == (me["id"], "uCloud")


def test_the_same_cloud_identity_again_is_the_same_user(trusting_app: Flask) -> None:
    client = trusting_app.test_client()
    ids = [client.get("/api/user/profile", headers=CLOUD).json["data"]["id"] for _ in range(2)]
    assert ids[0] == ids[1]
    assert User.select().where(User.openid == "oCloud").count() == 1


def test_wx_openid_answers_the_gateways_identities(trusting_app: Flask) -> None:
    ids = trusting_app.test_client().get("/api/wx_openid", headers=CLOUD)
    assert (ids.status_code, ids.json["data"]) == (
        200,
        {"openid": "oCloud", "appid": "wxapp", "unionid": "uCloud"},
    )


def test_in_a_shared_environment_the_from_openid_is_the_identity(trusting_app: Flask) -> None:
    headers = {"X-WX-FROM-OPENID": "oShared", "X-WX-SOURCE": "wx_client"}
    shared = trusting_app.test_client().get("/api/wx_openid", headers=headers)
    assert (shared.status_code, shared.json["data"]["openid"]) == (200, "oShared")


def test_wx_openid_without_an_identity_is_cloud_identity_missing(trusting_app: Flask) -> None:
    missing = trusting_app.test_client().get("/api/wx_openid", headers={"X-WX-SOURCE": "wx_client"})
    assert (missing.status_code, missing.json["error"]) == (401, "cloud_identity_missing")


FORGED = [
    {"X-WX-OPENID": "oForged"},
    {"X-WX-FROM-OPENID": "oForged"},
    {"X-WX-OPENID": "oForged", "X-WX-SOURCE": ""},
    {"X-WX-OPENID": "oForged", "X-WX-SOURCE": "   "},
    {"X-WX-OPENID": "oForged", "X-WX-APPID": "wxapp", "X-WX-UNIONID": "uForged"},
    {"X-WX-OPENID": "oForged", "X-WX-ENV": "prod-1", "X-Original-Forwarded-For": "1.2.3.4"},
]


@pytest.mark.parametrize("headers", FORGED, ids=lambda h: ",".join(h))
def test_identity_headers_without_x_wx_source_never_authenticate(
    trusting_app: Flask, headers: dict[str, str]
) -> None:
    """Even with WX_TRUST_CLOUD_HEADERS on: no X-WX-SOURCE, no WeChat, no identity."""
    client = trusting_app.test_client()
    response = client.get("/api/user/profile", headers=headers)
    assert (response.status_code, response.json["error"]) == (401, "token_missing")
    response = client.post("/api/logout", headers=headers)
    assert (response.status_code, response.json["error"]) == (401, "token_missing")
    response = client.get("/api/wx_openid", headers=headers)
    assert (response.status_code, response.json["error"]) == (403, "cloud_identity_disabled")
    assert User.select().count() == 0


def test_untrusted_identity_headers_are_logged_once_per_process(
    trusting_app: Flask, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service import auth

    monkeypatch.setattr(auth, "_said_untrusted", threading.Event())
    client = trusting_app.test_client()
    for _ in range(3):
        client.get("/api/user/profile", headers={"X-WX-OPENID": "oForged"})
    client.get("/api/user/profile")  # no identity header: nothing to say
    said = [r for r in caplog.records if "without X-WX-SOURCE ignored" in r.getMessage()]
    assert len(said) == 1
    assert "oForged" not in caplog.text


def test_the_longest_lifetimes_allowed_sign_in_and_refresh(
    make_app: AppFactory, fake_wechat: FakeWeChat
) -> None:
    """MAX_LIFETIME is the largest TTL the settings take: its dates must still be stored."""
    client = make_app(access_token_ttl=MAX_LIFETIME, refresh_token_ttl=MAX_LIFETIME).test_client()
    data = login(client, fake_wechat, "oLongLived")
    assert data["expires_in"] == MAX_LIFETIME
    assert profile(client, data["token"])[0] == 200
    status, body = refresh(client, data["refresh_token"])
    assert status == 200, body

"""Signing in and out at the edges: which sessions a logout ends, the instant a refresh
token expires, what the Authorization header must look like, and the log lines said.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import sessions
from service.config import Config
from service.models import AuthSession, RefreshToken, User, utcnow
from tests.support.apps import AppFactory
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import SignedIn, bearer

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration

CLOUD = {"X-WX-SOURCE": "wx_client"}


def refresh(client: FlaskClient, raw: str) -> tuple[int, str | None]:
    response = client.post("/api/refresh_token", json={"refresh_token": raw})
    return response.status_code, response.json.get("error")


def clock_at(monkeypatch: pytest.MonkeyPatch, module: object, moment: datetime) -> datetime:
    """`module`'s utcnow() answers `moment` from now on: the stamps a test expects, exactly."""
    monkeypatch.setattr(module, "utcnow", lambda: moment)
    return moment


def soon(delta: timedelta) -> datetime:
    """A whole second `delta` from now: what a MySQL DATETIME keeps, so rows compare equal."""
    return utcnow().replace(microsecond=0) + delta


def test_logout_ends_the_callers_session_and_no_other(
    client: FlaskClient, fake_wechat: FakeWeChat
) -> None:
    phone = SignedIn(client, fake_wechat, "oTwoDevices")
    tablet = SignedIn(client, fake_wechat, "oTwoDevices")
    other = SignedIn(client, fake_wechat, "oSomeoneElse")
    assert phone.call("POST", "/api/logout")[0] == 200
    assert phone.call("GET", "/api/user/profile")[0] == 401
    assert tablet.call("GET", "/api/user/profile")[0] == 200
    assert other.call("GET", "/api/user/profile")[0] == 200
    assert refresh(client, tablet.grant["refresh_token"])[0] == 200


def test_a_cloud_logout_ends_every_session_of_that_user_only(
    make_app: AppFactory, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_app(wx_trust_cloud_headers=True).test_client()
    gone, *mine = [SignedIn(client, fake_wechat, "oCloudLeaver") for _ in range(3)]
    theirs = SignedIn(client, fake_wechat, "oCloudStayer")
    earlier = clock_at(monkeypatch, sessions, soon(timedelta(minutes=10)))
    assert gone.call("POST", "/api/logout")[0] == 200
    later = clock_at(monkeypatch, sessions, earlier + timedelta(hours=1))
    out = client.post("/api/logout", headers={**CLOUD, "X-WX-OPENID": "oCloudLeaver"})
    assert out.status_code == 200
    assert [m.call("GET", "/api/user/profile")[0] for m in mine] == [401, 401]
    assert theirs.call("GET", "/api/user/profile")[0] == 200
    ended = AuthSession.select().join(User).where(User.openid == "oCloudLeaver")
    # The session that had ended already keeps the time it ended.
    assert sorted((s.revoked_at, s.updated_at) for s in ended) == [
        (earlier, earlier),
        (later, later),
        (later, later),
    ]
    kept = AuthSession.select().join(User).where(User.openid == "oCloudStayer")
    assert [s.revoked_at for s in kept] == [None]


def test_a_token_logout_stamps_its_session(
    client: FlaskClient, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = SignedIn(client, fake_wechat, "oStamped")
    later = clock_at(monkeypatch, sessions, soon(timedelta(hours=1)))
    assert user.call("POST", "/api/logout")[0] == 200
    (session,) = AuthSession.select().join(User).where(User.openid == "oStamped")
    assert (session.revoked_at, session.updated_at) == (later, later)


def test_a_refresh_token_is_expired_at_its_expiry_instant(
    client: FlaskClient, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = SignedIn(client, fake_wechat, "oAtTheEdge")
    (row,) = RefreshToken.select()
    clock_at(monkeypatch, sessions, row.expires_at)
    assert refresh(client, user.grant["refresh_token"]) == (401, "token_expired")


def test_a_used_refresh_token_is_stamped(
    client: FlaskClient, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = SignedIn(client, fake_wechat, "oRotating")
    later = clock_at(monkeypatch, sessions, soon(timedelta(minutes=5)))
    assert refresh(client, user.grant["refresh_token"])[0] == 200
    (used,) = RefreshToken.select().where(RefreshToken.used_at.is_null(False))
    assert (used.used_at, used.updated_at) == (later, later)


def test_a_reused_refresh_token_is_logged_with_the_masked_openid(
    client: FlaskClient, fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    user = SignedIn(client, fake_wechat, "oReusedTokenOwner")
    raw = user.grant["refresh_token"]
    assert refresh(client, raw)[0] == 200
    caplog.clear()
    assert refresh(client, raw) == (401, "token_invalid")
    said = [r.getMessage() for r in caplog.records if r.name == "service.sessions"]
    assert said == ["refresh token reused: session of oRe***ner revoked"]


# -- the Authorization header


#: Authorization headers, `{t}` standing for a genuine access token, and what each gets:
#: the Bearer scheme in any case and spacing signs in; anything else is token_invalid.
AUTHORIZATION = {
    "Bearer {t}": (200, None),
    "bearer {t}": (200, None),
    "BEARER {t}": (200, None),
    "Bearer  {t}": (200, None),
    "Bearer {t} ": (200, None),
    "Basic {t}": (401, "token_invalid"),
    "Basic dXNlcjpwYXNz": (401, "token_invalid"),
    "Token {t}": (401, "token_invalid"),
    "{t}": (401, "token_invalid"),
    "": (401, "token_invalid"),
    "Bearer": (401, "token_invalid"),
    "Bearer ": (401, "token_invalid"),
    "Bearer   ": (401, "token_invalid"),
    "Bearer not.a.jwt": (401, "token_invalid"),
    "Bearer a.b": (401, "token_invalid"),
}


@pytest.mark.parametrize(("shape", "answer"), AUTHORIZATION.items(), ids=repr)
def test_what_the_authorization_header_must_look_like(
    client: FlaskClient, fake_wechat: FakeWeChat, shape: str, answer: tuple[int, str | None]
) -> None:
    token = SignedIn(client, fake_wechat, "oScheme").token
    response = client.get("/api/user/profile", headers={"Authorization": shape.format(t=token)})
    assert (response.status_code, response.json.get("error")) == answer


@pytest.mark.parametrize("sub", ["abc", "", None, "1.5"])
def test_a_signed_token_whose_subject_is_no_user_id_is_token_invalid(
    client: FlaskClient, config: Config, sub: object
) -> None:
    claims = {"sub": sub, "iat": 1, "exp": 4_000_000_000, "sid": "x"}
    token = jwt.encode(claims, config.token_secret, algorithm="HS256")
    response = client.get("/api/user/profile", headers=bearer(token))
    assert (response.status_code, response.json["error"]) == (401, "token_invalid")


# -- Cloud Run's identity headers


def test_cloud_headers_without_a_unionid_make_a_user_without_one(make_app: AppFactory) -> None:
    client = make_app(wx_trust_cloud_headers=True).test_client()
    response = client.get("/api/user/profile", headers={**CLOUD, "X-WX-OPENID": "oNoUnion"})
    assert response.status_code == 200, response.json
    assert (response.json["data"]["openid"], response.json["data"]["unionid"]) == (
        "oNoUnion",
        None,
    )


def test_cloud_headers_with_a_new_unionid_answer_with_it_at_once(make_app: AppFactory) -> None:
    client = make_app(wx_trust_cloud_headers=True).test_client()
    headers = {**CLOUD, "X-WX-OPENID": "oLateUnion"}
    assert client.get("/api/user/profile", headers=headers).json["data"]["unionid"] is None
    now = client.get("/api/user/profile", headers={**headers, "X-WX-UNIONID": "uLate"})
    assert now.json["data"]["unionid"] == "uLate"


def test_identity_headers_from_outside_wechat_are_logged_once(
    trusting: Flask, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service import auth

    monkeypatch.setattr(auth, "_said_untrusted", type(auth._said_untrusted)())
    caplog.set_level(logging.WARNING, logger="service.auth")
    client = trusting.test_client()
    for _ in range(3):
        ignored = client.get("/api/user/profile", headers={"X-WX-OPENID": "oOutside"})
        assert (ignored.status_code, ignored.json["error"]) == (401, "token_missing")
    said = [r.getMessage() for r in caplog.records if r.name == "service.auth"]
    assert said == [
        "identity headers without X-WX-SOURCE ignored: the request did not come through WeChat"
    ]


@pytest.fixture
def trusting(make_app: AppFactory) -> Flask:
    return make_app(wx_trust_cloud_headers=True)


# -- what a login issues


def test_an_access_token_carries_exactly_its_claims(
    client: FlaskClient, fake_wechat: FakeWeChat, config: Config
) -> None:
    user = SignedIn(client, fake_wechat, "oClaims")
    other = SignedIn(client, fake_wechat, "oClaims")
    assert jwt.get_unverified_header(user.token)["alg"] == "HS256"
    claims = jwt.decode(user.token, config.token_secret, algorithms=["HS256"])
    (session,) = AuthSession.select().join(User).where(User.openid == "oClaims").limit(1)
    assert set(claims) == {"sub", "openid", "role", "sid", "iat", "exp", "jti"}
    assert (claims["sub"], claims["openid"], claims["role"]) == (str(user.id), "oClaims", 1)
    assert claims["sid"] == session.key
    assert claims["exp"] - claims["iat"] == config.access_token_ttl
    assert re.fullmatch(r"[0-9a-f]{32}", claims["jti"])
    assert claims["jti"] != jwt.decode(other.token, options={"verify_signature": False})["jti"]
    refresh_token = user.grant["refresh_token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{64}", refresh_token)  # 48 random bytes, URL-safe


def test_a_returning_user_gains_the_unionid_wechat_now_gives(
    client: FlaskClient, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service import users

    first = SignedIn(client, fake_wechat, "oGainsUnion")
    bystander = SignedIn(client, fake_wechat, "oBystander")
    assert first.me()["unionid"] is None
    later = clock_at(monkeypatch, users, soon(timedelta(hours=2)))
    code = fake_wechat.login_code("oGainsUnion", unionid="uGained")
    again = client.post("/api/login", json={"code": code}).json["data"]
    assert (again["user_id"], again["is_new_user"]) == (first.id, False)
    row = User.get_by_id(first.id)
    assert (row.unionid, row.updated_at) == ("uGained", later)
    assert User.get_by_id(bystander.id).unionid is None
    # The same unionid again changes nothing.
    clock_at(monkeypatch, users, later + timedelta(hours=1))
    client.post(
        "/api/login", json={"code": fake_wechat.login_code("oGainsUnion", unionid="uGained")}
    )
    assert User.get_by_id(first.id).updated_at == later

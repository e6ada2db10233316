"""Findings of a black-box attack run, each pinned down (rerun on MySQL).

Odd text, repeated writes, disabled users, the counter's ceiling, weak
secrets, admins racing each other, URLs, and what OPTIONS answers.
"""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from gunicorn.http.errors import InvalidChunkSize

from service import counter
from service.models import AuthSession, Counter, RefreshToken, Status, User
from tests.support.apps import AppFactory
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import SignedIn, bearer, login, signed_in_as

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


def rows() -> dict[str, int]:
    return {
        "users": User.select().count(),
        "sessions": AuthSession.select().count(),
        "refresh_tokens": RefreshToken.select().count(),
    }


def send(
    client: FlaskClient, method: str, path: str, raw: bytes, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
    response = client.open(path, method=method, data=raw, headers=headers)
    return response.status_code, dict(response.json)


@pytest.fixture
def member(client: FlaskClient, fake_wechat: FakeWeChat) -> dict[str, Any]:
    return login(client, fake_wechat, "oMember", nickname="原名")


# -- 1. lone surrogates

SURROGATE_BODIES = {
    "escaped value": b'{"nickname": "\\ud800"}',
    "raw bytes ED A0 80": b'{"nickname": "\xed\xa0\x80"}',
    "escaped key": b'{"\\udfff": 1}',
    "nested": b'{"nickname": "ok", "x": [{"y": "\\udc00"}]}',
}


@pytest.mark.parametrize("raw", SURROGATE_BODIES.values(), ids=SURROGATE_BODIES.keys())
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/api/user/profile"),
        ("POST", "/api/community/verify"),
        ("POST", "/api/refresh_token"),
        ("POST", "/api/count"),
    ],
)
def test_lone_surrogates_are_invalid_json_and_change_nothing(
    client: FlaskClient, member: dict[str, Any], method: str, path: str, raw: bytes
) -> None:
    before = rows()
    status, body = send(client, method, path, raw, member["token"])
    assert (status, body["error"], body["code"]) == (400, "invalid_json", 0)
    assert body["msg"] == "请求体必须是JSON对象"
    assert rows() == before
    assert User.get(User.openid == "oMember").nickname == "原名"


def test_admin_note_with_a_surrogate_is_refused(
    client: FlaskClient, admin: SignedIn, member: dict[str, Any]
) -> None:
    raw = b'{"decision": "approve", "note": "\\ud83d"}'
    path = f"/api/admin/verifications/{member['user_id']}"
    status, body = send(client, "POST", path, raw, admin.token)
    assert (status, body["error"]) == (400, "invalid_json")


@pytest.mark.parametrize("raw", SURROGATE_BODIES.values(), ids=SURROGATE_BODIES.keys())
def test_login_with_a_surrogate_never_reaches_wechat(
    client: FlaskClient, fake_wechat: FakeWeChat, raw: bytes
) -> None:
    code = fake_wechat.login_code("oSurrogate")
    body = json.loads(raw.decode("utf-8", "surrogatepass"))
    body["code"] = code
    encoded = json.dumps(body).encode()
    status, answer = send(client, "POST", "/api/login", encoded)
    assert (status, answer["error"]) == (400, "invalid_json")
    assert fake_wechat.calls["/sns/jscode2session"] == 0  # the code is not burned
    assert User.select().where(User.openid == "oSurrogate").count() == 0
    assert AuthSession.select().count() == 0


# -- 4. a write that changes nothing is still found


def test_repeating_the_same_admin_patch_answers_200_every_time(
    client: FlaskClient, admin: SignedIn, member: dict[str, Any]
) -> None:
    path = f"/api/admin/users/{member['user_id']}"
    answers = [client.patch(path, json={"status": 2}, headers=admin.headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert {a.json["data"]["status_name"] for a in answers} == {"disabled"}
    missing = client.patch("/api/admin/users/999999", json={"status": 2}, headers=admin.headers)
    assert (missing.status_code, missing.json["error"]) == (404, "user_not_found")


def test_repeating_the_same_profile_edit_answers_200(
    client: FlaskClient, member: dict[str, Any]
) -> None:
    for _ in range(3):
        response = client.patch(
            "/api/user/profile", json={"nickname": "同名"}, headers=bearer(member["token"])
        )
        assert (response.status_code, response.json["data"]["nickname"]) == (200, "同名")


# -- 5 and 13. disabled users: refresh keeps the token, logout works


def test_a_refresh_refused_for_a_disabled_user_keeps_the_token(
    client: FlaskClient, member: dict[str, Any]
) -> None:
    User.update(status=int(Status.DISABLED)).where(User.id == member["user_id"]).execute()
    refused = client.post("/api/refresh_token", json={"refresh_token": member["refresh_token"]})
    assert (refused.status_code, refused.json["error"]) == (403, "user_disabled")
    assert RefreshToken.select().where(RefreshToken.used_at.is_null(False)).count() == 0

    User.update(status=int(Status.NORMAL)).where(User.id == member["user_id"]).execute()
    again = client.post("/api/refresh_token", json={"refresh_token": member["refresh_token"]})
    assert again.status_code == 200, again.json
    assert AuthSession.get(AuthSession.user == member["user_id"]).revoked_at is None


def test_a_disabled_user_can_log_out_and_the_session_stays_ended(
    client: FlaskClient, member: dict[str, Any]
) -> None:
    User.update(status=int(Status.DISABLED)).where(User.id == member["user_id"]).execute()
    out = client.post("/api/logout", headers=bearer(member["token"]))
    assert out.status_code == 200, out.json
    User.update(status=int(Status.NORMAL)).where(User.id == member["user_id"]).execute()
    after = client.get("/api/user/profile", headers=bearer(member["token"]))
    assert (after.status_code, after.json["error"]) == (401, "token_invalid")
    refreshed = client.post("/api/refresh_token", json={"refresh_token": member["refresh_token"]})
    assert (refreshed.status_code, refreshed.json["error"]) == (401, "token_invalid")


# Everywhere else a disabled user is refused: tests/unit/test_login_flow.py (ASKS).


# -- 6. chunked bodies obey MAX_BODY_BYTES


def chunked_post(client: FlaskClient, raw: bytes) -> Any:
    """A body without Content-Length, as gunicorn hands a chunked upload to the app."""
    return client.post(
        "/api/count",
        input_stream=io.BytesIO(raw),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_body_over_the_limit_is_413_and_counts_nothing(
    app: Flask, client: FlaskClient
) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = chunked_post(client, b'{"action": "inc"}' + b" " * (limit + 200_000))
    assert (response.status_code, response.json["error"]) == (413, "payload_too_large")
    assert counter.current() == 0
    small = chunked_post(client, b'{"action": "inc"}')
    assert (small.status_code, small.json["data"]) == (200, 1)


class BrokenChunks(io.BytesIO):
    """A chunked body whose framing breaks: gunicorn's reader raises mid-body, as this does."""

    def read(self, size: int | None = -1) -> bytes:
        raise InvalidChunkSize(b"zz")

    def readinto(self, buffer: Any) -> int:
        raise InvalidChunkSize(b"zz")


def test_a_chunked_body_whose_framing_breaks_is_400_and_counts_nothing(
    client: FlaskClient,
) -> None:
    response = client.post(
        "/api/count",
        input_stream=BrokenChunks(b'{"action": "inc"}'),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert (response.status_code, response.json["error"]) == (400, "bad_request")
    assert response.json["msg"] == "请求格式错误"
    assert counter.current() == 0


# -- 7. the counter's ceiling


def test_inc_at_the_maximum_is_409_and_the_count_stays(client: FlaskClient) -> None:
    client.post("/api/count", json={"action": "inc"})
    Counter.update(count=counter.MAX_COUNT - 1).where(Counter.id == counter.COUNTER_ID).execute()
    last = client.post("/api/count", json={"action": "inc"})
    assert (last.status_code, last.json["data"]) == (200, counter.MAX_COUNT)
    over = client.post("/api/count", json={"action": "inc"})
    assert (over.status_code, over.json["error"]) == (409, "counter_at_maximum")
    assert over.json["msg"] == "计数已达上限，请先清零"
    assert client.get("/api/count").json["data"] == counter.MAX_COUNT
    assert client.post("/api/count", json={"action": "clear"}).json["data"] == 0
    assert client.post("/api/count", json={"action": "inc"}).json["data"] == 1


# -- 8. weak production secrets: tests/unit/test_production_check.py


# -- 9. no TOKEN_SECRET in development


@pytest.fixture
def unsigned_client(make_app: AppFactory) -> FlaskClient:
    return make_app(token_secret="").test_client()


def test_without_a_secret_login_refuses_before_wechat_is_called(
    unsigned_client: FlaskClient, fake_wechat: FakeWeChat
) -> None:
    code = fake_wechat.login_code("oNoSecret")
    response = unsigned_client.post("/api/login", json={"code": code})
    assert (response.status_code, response.json["error"]) == (503, "token_secret_missing")
    assert fake_wechat.calls["/sns/jscode2session"] == 0
    assert User.select().count() == 0
    assert AuthSession.select().count() == 0
    refresh = unsigned_client.post("/api/refresh_token", json={"refresh_token": "x" * 64})
    assert (refresh.status_code, refresh.json["error"]) == (503, "token_secret_missing")
    signed_in = unsigned_client.get("/api/user/profile", headers=bearer("a.b.c"))
    assert (signed_in.status_code, signed_in.json["error"]) == (503, "token_secret_missing")
    assert unsigned_client.get("/api/count").status_code == 200  # the rest still works


def test_a_missing_secret_is_said_at_start(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    make_app(token_secret="", migrated=False)
    assert any("TOKEN_SECRET is not set" in r.getMessage() for r in caplog.records)


# -- 10. never zero active admins


def make_admins(
    client: FlaskClient, fake: FakeWeChat, runner: FlaskCliRunner
) -> tuple[SignedIn, SignedIn]:
    return (
        signed_in_as("admin", client, fake, runner, "oAdminOne"),
        signed_in_as("admin", client, fake, runner, "oAdminTwo"),
    )


def active_admins() -> int:
    return User.select().where(User.role == 9, User.status == 1).count()


@pytest.mark.parametrize("body", [{"status": 2}, {"role": 1}])
def test_admins_disabling_each_other_at_once_leave_one(
    shared_app: Flask, fake_wechat: FakeWeChat, body: dict[str, Any]
) -> None:
    first, second = make_admins(shared_app.test_client(), fake_wechat, shared_app.test_cli_runner())
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def act(me: SignedIn, other: SignedIn) -> None:
        own = shared_app.test_client()
        barrier.wait()
        response = own.patch(f"/api/admin/users/{other.id}", json=body, headers=me.headers)
        statuses.append(response.status_code)

    threads = [
        threading.Thread(target=act, args=(first, second)),
        threading.Thread(target=act, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [200, 403]
    assert active_admins() == 1


def test_a_removed_admin_cannot_act_any_more(
    client: FlaskClient, fake_wechat: FakeWeChat, runner: FlaskCliRunner
) -> None:
    first, second = make_admins(client, fake_wechat, runner)
    ok = client.patch(f"/api/admin/users/{second.id}", json={"role": 2}, headers=first.headers)
    assert ok.status_code == 200
    # The demoted admin's token no longer admits it; the one left stays.
    refused = client.patch(
        f"/api/admin/users/{first.id}", json={"status": 2}, headers=second.headers
    )
    assert (refused.status_code, refused.json["error"]) == (403, "admin_required")
    assert active_admins() == 1


def test_promote_says_what_it_changed_and_enables_an_admin(
    runner: FlaskCliRunner, member: dict[str, Any]
) -> None:
    User.update(status=int(Status.DISABLED)).where(User.id == member["user_id"]).execute()
    result = runner.invoke(args=["users", "promote", "oMember"])
    assert result.exit_code == 0, result.output
    assert "role solo (1) -> admin (9)" in result.output
    assert "status disabled -> normal" in result.output
    user = User.get_by_id(member["user_id"])
    assert (user.role, user.status) == (9, 1)
    again = runner.invoke(args=["users", "promote", "oMember"])
    assert "nothing changed" in again.output


def test_promote_to_another_role_says_a_disabled_user_stays_disabled(
    runner: FlaskCliRunner, member: dict[str, Any]
) -> None:
    User.update(status=int(Status.DISABLED)).where(User.id == member["user_id"]).execute()
    result = runner.invoke(args=["users", "promote", "oMember", "--role", "supervisor"])
    assert "role solo (1) -> supervisor (2)" in result.output
    assert "stays disabled" in result.output
    assert User.get_by_id(member["user_id"]).status == 2


# -- 11. avatar URLs parsed, not prefix-matched


@pytest.mark.parametrize(
    "url",
    [
        "https:///x",
        "https://a b",
        "https://user:pw@evil/x",
        "https://user@evil/x",
        "http://img.example/a.png",
        "https://img.example/a\tb.png",
        "https://img.example/\x00.png",
        "https://img.example:port/a.png",
        "javascript:alert(1)",
        "https://",
    ],
)
def test_avatar_urls_that_are_not_plain_https_are_refused(
    client: FlaskClient, member: dict[str, Any], url: str
) -> None:
    response = client.patch(
        "/api/user/profile", json={"avatar_url": url}, headers=bearer(member["token"])
    )
    assert (response.status_code, response.json["error"]) == (400, "invalid_parameter")
    assert response.json["msg"] == "avatar_url参数错误：须为https链接"
    assert User.get_by_id(member["user_id"]).avatar_url is None


@pytest.mark.parametrize(
    "url", ["HTTPS://A/B", "https://img.example:8443/a.png?x=1#f", "https://[::1]/a.png"]
)
def test_avatar_urls_in_any_scheme_case_are_kept(
    client: FlaskClient, member: dict[str, Any], url: str
) -> None:
    response = client.patch(
        "/api/user/profile", json={"avatar_url": url}, headers=bearer(member["token"])
    )
    assert response.status_code == 200, response.json
    assert User.get_by_id(member["user_id"]).avatar_url == url


# -- 12. OPTIONS on /api


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("/api/count", {"GET", "POST", "HEAD", "OPTIONS"}), ("/api/login", {"POST", "OPTIONS"})],
)
def test_options_on_api_is_204_with_allow(
    client: FlaskClient, path: str, allowed: set[str]
) -> None:
    response = client.options(path)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert "Content-Type" not in response.headers  # 204 carries no body to describe
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == allowed


def test_options_on_an_unknown_api_path_is_the_404_envelope(client: FlaskClient) -> None:
    response = client.options("/api/nothing-here")
    assert (response.status_code, response.json["error"]) == (404, "not_found")

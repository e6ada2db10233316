"""What WeChat answers is checked against its column before it is stored (rerun on MySQL).

An openid, unionid or phone number that its column cannot keep as it is
(too long, a control character, a lone surrogate, a space at either end) is
502 wechat_bad_response in the envelope, nothing is written, and one log line
names the field, never the value.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.models import User
from tests.support.apps import AppFactory
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import Reply, SignedIn, attempt_login, login
from tests.support.rows import snapshot

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration

OPENID_LIMIT = 64
PHONE_LIMIT = 32

#: Values no identifier column may be given, by what is wrong with them.
UNUSABLE = {
    "too long": "o" * (OPENID_LIMIT + 1),
    "lone surrogate": "oAbc\ud800def",
    "NUL": "oAbc\x00def",
    "control character": "oAbc\x1bdef",
    "trailing space": "oAbcdef ",
    "leading space": " oAbcdef",
}


def assert_bad_response(status: int, body: dict[str, Any]) -> None:
    assert status == 502, body
    assert body == {
        "code": 0,
        "data": {},
        "msg": "微信服务返回的数据无效",
        "error": "wechat_bad_response",
    }


def assert_logged_once(caplog: pytest.LogCaptureFixture, field: str, value: str) -> None:
    """One line names the field; no line anywhere carries the value."""
    said = [r.getMessage() for r in caplog.records if "unusable" in r.getMessage()]
    assert len(said) == 1, said
    assert f"unusable {field} (" in said[0]
    assert not any(value in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("fault", UNUSABLE)
def test_an_unusable_openid_is_refused_and_nothing_is_stored(
    client: FlaskClient,
    fake_wechat: FakeWeChat,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    login(client, fake_wechat, "oSomeoneBefore")  # a row that must stay as it is
    before = snapshot()
    reply = attempt_login(client, fake_wechat, UNUSABLE[fault])
    assert_bad_response(reply.status, reply.body)
    assert snapshot() == before
    assert_logged_once(caplog, "openid", UNUSABLE[fault])
    assert "wechat code2session: unusable openid (" in caplog.text


def test_an_empty_openid_is_refused(client: FlaskClient, fake_wechat: FakeWeChat) -> None:
    fake_wechat.interpose("/sns/jscode2session", json.dumps({"openid": "", "session_key": "k"}))
    before = snapshot()
    reply = attempt_login(client, fake_wechat, code="any-code")
    assert_bad_response(reply.status, reply.body)
    assert snapshot() == before


@pytest.mark.parametrize("fault", UNUSABLE)
def test_an_unusable_unionid_is_refused_at_a_first_login_and_a_return(
    client: FlaskClient,
    fake_wechat: FakeWeChat,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    bad = UNUSABLE[fault].replace("o", "u")
    login(client, fake_wechat, code=fake_wechat.login_code("oReturning", unionid="uGood"))
    before = snapshot()
    for openid in ("oFirstTime", "oReturning"):
        code = fake_wechat.login_code(openid, unionid=bad)
        reply = attempt_login(client, fake_wechat, code=code)
        assert_bad_response(reply.status, reply.body)
    assert snapshot() == before
    said = [r.getMessage() for r in caplog.records if "unusable unionid (" in r.getMessage()]
    assert len(said) == 2
    assert not any(bad in r.getMessage() for r in caplog.records)


def test_identifiers_as_long_as_their_columns_are_kept_whole(
    client: FlaskClient, fake_wechat: FakeWeChat
) -> None:
    openid, unionid = "o" * OPENID_LIMIT, "u" * OPENID_LIMIT
    data = login(client, fake_wechat, code=fake_wechat.login_code(openid, unionid=unionid))
    stored = User.get_by_id(data["user_id"])
    assert (stored.openid, stored.unionid) == (openid, unionid)


@pytest.fixture
def alice(client: FlaskClient, fake_wechat: FakeWeChat) -> SignedIn:
    return SignedIn(client, fake_wechat, "oAlicePhone")


def bind(alice: SignedIn, code: str) -> Reply:
    status, body = alice.call("post", "/api/user/phone", json={"code": code})
    return Reply(status, body, {})


@pytest.mark.parametrize(
    "number",
    ["+86" + "1" * (PHONE_LIMIT - 2), "+861380000\ud8001111", "+861380000\x001111", "138 "],
    ids=["too long", "lone surrogate", "NUL", "trailing space"],
)
def test_an_unusable_phone_number_is_refused_and_nothing_is_stored(
    alice: SignedIn,
    fake_wechat: FakeWeChat,
    caplog: pytest.LogCaptureFixture,
    number: str,
) -> None:
    before = snapshot()
    reply = bind(alice, fake_wechat.phone_code(number))
    assert_bad_response(reply.status, reply.body)
    assert snapshot() == before
    assert alice.me()["phone_number"] is None
    assert_logged_once(caplog, "phoneNumber", number)


@pytest.mark.parametrize(
    "field", ["phoneNumber", "purePhoneNumber", "countryCode"], ids=lambda f: f
)
def test_each_part_of_the_phone_answer_is_checked(
    alice: SignedIn, fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture, field: str
) -> None:
    info: dict[str, Any] = {
        "phoneNumber": "+8613800001111",
        "purePhoneNumber": "13800001111",
        "countryCode": "86",
    }
    info[field] = "8" * (PHONE_LIMIT + 1)
    fake_wechat.interpose(
        "/wxa/business/getuserphonenumber",
        json.dumps({"errcode": 0, "errmsg": "ok", "phone_info": info}),
    )
    before = snapshot()
    reply = bind(alice, "any-code")
    assert_bad_response(reply.status, reply.body)
    assert snapshot() == before
    assert_logged_once(caplog, field, info[field])


def test_a_phone_number_as_long_as_its_column_is_kept_whole(
    alice: SignedIn, fake_wechat: FakeWeChat
) -> None:
    number = "+86" + "1" * (PHONE_LIMIT - 3)
    reply = bind(alice, fake_wechat.phone_code(number))
    assert reply.status == 200, reply.body
    assert alice.me()["phone_number"] == number


def test_a_number_without_a_country_code_is_kept(alice: SignedIn, fake_wechat: FakeWeChat) -> None:
    info = {"phoneNumber": "13800001111", "purePhoneNumber": "13800001111"}
    fake_wechat.interpose(
        "/wxa/business/getuserphonenumber",
        json.dumps({"errcode": 0, "errmsg": "ok", "phone_info": info}),
    )
    reply = bind(alice, "any-code")
    assert reply.status == 200, reply.body
    assert reply.body["data"]["country_code"] == ""


@pytest.mark.parametrize(
    ("header", "value", "field"),
    [
        ("X-WX-OPENID", "o" * (OPENID_LIMIT + 1), "openid header"),
        ("X-WX-UNIONID", "u" * (OPENID_LIMIT + 1), "unionid header"),
    ],
)
def test_unusable_identity_headers_are_refused_and_nothing_is_stored(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture, header: str, value: str, field: str
) -> None:
    client = make_app(wx_trust_cloud_headers=True).test_client()
    headers = {"X-WX-SOURCE": "wx_client", "X-WX-OPENID": "oGateway", header: value}
    before = snapshot()
    response = client.get("/api/user/profile", headers=headers)
    assert_bad_response(response.status_code, response.json)
    assert snapshot() == before
    assert_logged_once(caplog, field, value)
    assert f"wechat gateway: unusable {field} (over 64 characters)" in caplog.text

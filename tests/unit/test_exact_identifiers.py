"""Identifiers compare exactly, byte for byte, on MySQL as on SQLite (rerun on MySQL).

WeChat's openids and unionids are case-sensitive, and so are our own tokens.
SQLite compares text exactly; MySQL compares it by the column's collation, and
the usual defaults (utf8mb4_unicode_ci, utf8mb4_0900_ai_ci) treat `oAbC` and
`oabc` as one value. Only the MySQL run of this module can catch that.
"""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from service.models import PushMessage, User
from tests.support.apps import AppFactory
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import SignedIn, attempt_login, login

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration

#: One openid in three spellings that differ only in letter case.
SPELLINGS = (
    "oAbCdEfGhIjKlMnOpQrStUvWxYz0",
    "oabcdefghijklmnopqrstuvwxyz0",
    "OABCDEFGHIJKLMNOPQRSTUVWXYZ0",
)


def test_openids_differing_only_in_case_are_three_users(
    client: FlaskClient, fake_wechat: FakeWeChat
) -> None:
    people = [SignedIn(client, fake_wechat, openid) for openid in SPELLINGS]
    assert [person.grant["is_new_user"] for person in people] == [True, True, True]
    assert len({person.id for person in people}) == 3
    assert [person.me()["openid"] for person in people] == list(SPELLINGS)
    assert sorted(User.select(User.openid).tuples()) == sorted((o,) for o in SPELLINGS)


def test_each_spelling_signs_in_again_as_its_own_user(
    client: FlaskClient, fake_wechat: FakeWeChat
) -> None:
    first = {openid: login(client, fake_wechat, openid)["user_id"] for openid in SPELLINGS}
    assert len(set(first.values())) == 3
    again = {openid: login(client, fake_wechat, openid) for openid in reversed(SPELLINGS)}
    assert {openid: data["user_id"] for openid, data in again.items()} == first
    assert not any(data["is_new_user"] for data in again.values())


def test_the_per_openid_login_limit_counts_each_spelling_apart(
    make_app: AppFactory, fake_wechat: FakeWeChat
) -> None:
    client = make_app(login_limit_per_openid=1).test_client()
    first = [attempt_login(client, fake_wechat, openid).status for openid in SPELLINGS]
    assert first == [200] * len(SPELLINGS)
    again = attempt_login(client, fake_wechat, SPELLINGS[0])  # the limit is on: one each
    assert (again.status, again.body["error"]) == (429, "rate_limited")


def test_cloud_identities_differing_only_in_case_are_different_users(
    make_app: AppFactory,
) -> None:
    client = make_app(wx_trust_cloud_headers=True).test_client()
    seen = []
    for openid in SPELLINGS:
        response = client.get(
            "/api/user/profile", headers={"X-WX-SOURCE": "wx_client", "X-WX-OPENID": openid}
        )
        assert response.status_code == 200, response.json
        seen.append((response.json["data"]["id"], response.json["data"]["openid"]))
    assert len({user_id for user_id, _ in seen}) == 3
    assert [openid for _, openid in seen] == list(SPELLINGS)


def test_unionids_differing_only_in_case_are_kept_as_given(
    client: FlaskClient, fake_wechat: FakeWeChat
) -> None:
    """A returning user whose unionid WeChat now spells differently gets it recorded."""
    openid = "oUnionCase000000000000000000"
    login(client, fake_wechat, code=fake_wechat.login_code(openid, unionid="uAbCdEf"))
    login(client, fake_wechat, code=fake_wechat.login_code(openid, unionid="uabcdef"))
    assert User.get(User.openid == openid).unionid == "uabcdef"


def push(client: FlaskClient, body: dict[str, object]) -> None:
    """POST as the platform does: JSON, with non-ASCII as \\u escapes."""
    response = client.post(
        "/wx/push",
        data=json.dumps(body),
        headers={"X-WX-SOURCE": "wx_push", "Content-Type": "application/json"},
    )
    assert (response.status_code, response.get_data()) == (200, b"success")


def test_events_from_senders_differing_only_in_case_are_two_messages(
    client: FlaskClient,
) -> None:
    """Events carry no MsgId: sender, time and event are their identity."""
    for sender in ("oAbc", "oaBC", "oAbc"):
        push(
            client,
            {
                "ToUserName": "gh_service",
                "FromUserName": sender,
                "CreateTime": 1764633700,
                "MsgType": "event",
                "Event": "user_enter_tempsession",
            },
        )
    rows = PushMessage.select().order_by(PushMessage.id)
    assert [row.from_user for row in rows] == ["oAbc", "oaBC"]


def test_events_differing_only_by_a_trailing_space_are_two_messages(
    client: FlaskClient,
) -> None:
    """utf8mb4_bin ignores trailing spaces when it compares (PAD SPACE); SQLite does not.

    Keyed as `evt:…:subscribe` and `evt:…:subscribe `, the second event was a repeat on
    MySQL only, and dropped.
    """
    for event in ("subscribe", "subscribe ", "subscribe "):
        push(client, {"FromUserName": "oAbc", "CreateTime": 1764633700, "Event": event})
    rows = PushMessage.select().order_by(PushMessage.id)
    assert [row.event for row in rows] == ["subscribe", "subscribe "]


def test_a_refresh_token_altered_only_in_case_is_refused(
    client: FlaskClient, fake_wechat: FakeWeChat
) -> None:
    grant = login(client, fake_wechat, "oRefreshCase000000000000000")
    raw: str = grant["refresh_token"]
    altered = raw.swapcase()
    assert altered != raw
    assert altered.lower() == raw.lower()
    response = client.post("/api/refresh_token", json={"refresh_token": altered})
    assert (response.status_code, response.json["error"]) == (401, "token_invalid")
    # The refusal neither used nor revoked the real one.
    assert client.post("/api/refresh_token", json={"refresh_token": raw}).status_code == 200


@pytest.mark.parametrize(
    ("sender", "other"),
    [("oAbc\ud800", "oAbc\ud801"), ("o" * 130, "o" * 129 + "X")],
    ids=["lone surrogate", "longer than the key column"],
)
def test_events_whose_key_the_column_cannot_keep_are_known_by_their_body(
    client: FlaskClient, sender: str, other: str
) -> None:
    """Such a sender was a 500 (which the platform retries), or a key cut short that
    another sender shared; now the body's digest keys the event, and each is stored once."""
    for who in (sender, other, sender):
        push(client, {"FromUserName": who, "CreateTime": 1764633700, "Event": "subscribe"})
    keys = [row.dedupe_key for row in PushMessage.select().order_by(PushMessage.id)]
    assert len(keys) == 2
    assert all(key.startswith("body:") for key in keys)

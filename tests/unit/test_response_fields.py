"""What the answers hold, field by field: every documented field of a user, as its owner
and as an admin sees it; pushed messages; and the admin lists' paging, at its bounds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.openapi import document
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import SignedIn

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration

USER_FIELDS = set(document()["components"]["schemas"]["User"]["properties"])
APPLICATION = {"name": "王五", "workId": "SQ-9", "workProof": "https://img.example/w.jpg"}


def instant(text: str) -> datetime:
    """An ISO 8601 time in UTC, as the API writes every time it returns."""
    value = datetime.fromisoformat(text)
    assert value.utcoffset() is not None, text
    assert value.utcoffset() == UTC.utcoffset(value), text
    return value


@pytest.fixture
def applicant(client: FlaskClient, fake_wechat: FakeWeChat) -> SignedIn:
    person = SignedIn(client, fake_wechat, "oFieldsApplicant")
    assert person.call("POST", "/api/community/verify", json=APPLICATION)[0] == 200
    return person


def test_the_owner_sees_every_documented_field(applicant: SignedIn) -> None:
    me = applicant.me()
    assert set(me) == USER_FIELDS
    assert (me["real_name"], me["work_id"], me["verification_materials"]) == (
        "王五",
        "SQ-9",
        "https://img.example/w.jpg",
    )
    applied, created, updated = (
        instant(me[k]) for k in ("verification_applied_at", "created_at", "updated_at")
    )
    assert created <= applied
    assert created <= updated
    assert (me["reviewed_at"], me["reviewed_by"], me["review_note"]) == (None, None, None)


def test_an_admin_sees_the_same_fields_and_the_review(applicant: SignedIn, admin: SignedIn) -> None:
    status, body = admin.call(
        "POST",
        f"/api/admin/verifications/{applicant.id}",
        json={"decision": "approve", "note": "ok"},
    )
    assert status == 200, body
    reviewed = body["data"]
    assert set(reviewed) == USER_FIELDS
    assert (reviewed["reviewed_by"], reviewed["review_note"]) == (admin.id, "ok")
    assert instant(reviewed["reviewed_at"]) >= instant(reviewed["verification_applied_at"])
    status, body = admin.call("GET", "/api/admin/users")
    assert status == 200
    assert all(set(item) == USER_FIELDS for item in body["data"]["items"])


def test_a_pushed_message_is_listed_with_every_field(client: FlaskClient, admin: SignedIn) -> None:
    pushed = {
        "ToUserName": "gh_fields",
        "FromUserName": "oFieldsSender",
        "CreateTime": 1764633601,
        "MsgType": "event",
        "Event": "user_enter_tempsession",
        "Content": "进入会话",
        "MsgId": 24000000000000777,
    }
    delivered = client.post("/wx/push", json=pushed, headers={"X-WX-SOURCE": "wx_push"})
    assert (delivered.status_code, delivered.get_data()) == (200, b"success")
    status, body = admin.call("GET", "/api/admin/messages")
    assert status == 200
    (item,) = body["data"]["items"]
    received = instant(item.pop("received_at"))
    assert abs((datetime.now(UTC) - received).total_seconds()) < 300
    assert item == {
        "id": item["id"],
        "msg_id": "24000000000000777",
        "from_user": "oFieldsSender",
        "to_user": "gh_fields",
        "msg_type": "event",
        "event": "user_enter_tempsession",
        "content": "进入会话",
        "create_time": 1764633601,
    }


# -- paging


def page_of(admin: SignedIn, query: str) -> dict[str, Any]:
    status, body = admin.call("GET", f"/api/admin/users{query}")
    assert status == 200, body
    data: dict[str, Any] = body["data"]
    return data


@pytest.mark.parametrize("query", ["", "?page=", "?size=", "?page=&size="])
def test_paging_defaults_to_the_first_20(admin: SignedIn, query: str) -> None:
    data = page_of(admin, query)
    assert (data["page"], data["size"]) == (1, 20)


def test_paging_takes_its_bounds_and_refuses_past_them(admin: SignedIn) -> None:
    top = 50  # docs/api.md and openapi.yaml: `size` 1–50
    assert page_of(admin, f"?size={top}")["size"] == top
    assert page_of(admin, "?size=1&page=1000000")["page"] == 1_000_000
    for query, name, low, high in [
        (f"?size={top + 1}", "size", 1, top),
        ("?page=1000001", "page", 1, 1_000_000),
        ("?size=0", "size", 1, top),
    ]:
        status, body = admin.call("GET", f"/api/admin/users{query}")
        assert (status, body["error"], body["msg"]) == (
            400,
            "invalid_parameter",
            f"{name}参数错误：须为{low}到{high}之间的整数",
        )


def test_a_filter_outside_its_choices_names_them(admin: SignedIn) -> None:
    status, body = admin.call("GET", "/api/admin/verifications?status=9")
    assert (status, body["error"], body["msg"]) == (
        400,
        "invalid_parameter",
        "status参数错误：须为[0, 1, 2, 3]之一",
    )
    assert admin.call("GET", "/api/admin/verifications?status=0")[0] == 200
    for role in (0, 99):
        status, body = admin.call("GET", f"/api/admin/users?role={role}")
        assert (status, body["msg"]) == (400, "role参数错误：须为[1, 2, 3, 9]之一")
    status, body = admin.call("GET", "/api/admin/users?role=100")
    assert (status, body["msg"]) == (400, "role参数错误：须为0到99之间的整数")

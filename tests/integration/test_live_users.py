"""Verification, administration and phone numbers over real HTTP: gunicorn, MySQL, fake WeChat."""

from __future__ import annotations

import pytest

from service.openapi import document
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import SignedIn, over_http
from tests.support.live_server import LiveServer, promote


@pytest.fixture
def admin(live_server: LiveServer, fake_wechat: FakeWeChat) -> SignedIn:
    member = SignedIn(over_http(live_server.url), fake_wechat, "oLiveAdmin")
    promote(live_server, member.openid)
    return member


APPLICATION = {"name": "李四", "workId": "SQ-7", "workProof": "https://img.example/p.jpg"}


def test_apply_list_approve_and_reject_over_http(
    live_server: LiveServer, fake_wechat: FakeWeChat, admin: SignedIn
) -> None:
    carol = SignedIn(over_http(live_server.url), fake_wechat, "oLiveCarol")
    dave = SignedIn(over_http(live_server.url), fake_wechat, "oLiveDave")
    for member in (carol, dave):
        assert member.call("POST", "/api/community/verify", json=APPLICATION)[0] == 200

    status, body = admin.call("GET", "/api/admin/verifications", params={"status": 1, "size": 50})
    assert status == 200
    pending = [item["id"] for item in body["data"]["items"]]
    assert {carol.id, dave.id} <= set(pending)
    assert pending.index(dave.id) < pending.index(carol.id)  # newest first

    assert (
        admin.call("POST", f"/api/admin/verifications/{carol.id}", json={"decision": "approve"})[0]
        == 200
    )
    me = carol.me()
    assert (me["role"], me["role_name"]) == (3, "community")
    assert (me["verification_status"], me["verification_status_name"]) == (2, "approved")

    status, _ = admin.call(
        "POST",
        f"/api/admin/verifications/{dave.id}",
        json={"decision": "reject", "note": "unclear"},
    )
    assert status == 200
    assert dave.me()["verification_status_name"] == "rejected"
    status, body = dave.call("POST", "/api/community/verify", json=APPLICATION)
    assert (status, body["data"]["verification_status_name"]) == (200, "pending")


def admin_operations() -> list[tuple[str, str]]:
    return [
        (method.upper(), path.replace("{user_id}", "1"))
        for path, item in document()["paths"].items()
        if path.startswith("/api/admin")
        for method in item
        if method in {"get", "post", "patch", "put", "delete"}
    ]


def test_no_normal_user_reaches_an_admin_route(
    live_server: LiveServer, fake_wechat: FakeWeChat
) -> None:
    eve = SignedIn(over_http(live_server.url), fake_wechat, "oLiveEve")
    before = eve.me()
    operations = admin_operations()
    # verifications (list, decide), users (list, edit), messages, notifications
    assert len(operations) == 6
    for method, path in operations:
        status, body = eve.call(method, path, json={"status": 2, "role": 9, "decision": "approve"})
        assert (status, body["error"]) == (403, "admin_required"), (method, path)
    # The outbox's drain takes an admin's token (or a scheduled trigger's X-WX-SOURCE).
    status, body = eve.call("POST", "/api/outbox/drain")
    assert (status, body["error"]) == (403, "admin_required")
    for body in ({"role": 9}, {"role": 3}, {"status": 2}, {"verification_status": 2}):
        status, _ = eve.call("PATCH", "/api/user/profile", json=body)
        assert status == 403
    assert eve.me() == before


def test_phone_binding_over_http(live_server: LiveServer, fake_wechat: FakeWeChat) -> None:
    members = [
        SignedIn(over_http(live_server.url), fake_wechat, f"oLivePhone{n}") for n in range(8)
    ]
    for n, member in enumerate(members):
        code = fake_wechat.phone_code(f"1370000{n:04}")
        status, body = member.call("POST", "/api/user/phone", json={"code": code})
        assert (status, body["data"]["phone_number"]) == (200, f"1370000{n:04}")
    status, body = members[1].call(
        "POST", "/api/user/phone", json={"code": fake_wechat.phone_code("13700000000")}
    )
    assert (status, body["error"]) == (409, "phone_taken")
    assert members[1].me()["phone_number"] == "13700000001"
    # The access token is cached per process: one stable_token call per worker at most.
    assert 1 <= fake_wechat.calls["/cgi-bin/stable_token"] <= live_server.workers
    assert fake_wechat.calls["/wxa/business/getuserphonenumber"] == 9

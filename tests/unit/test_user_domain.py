"""Profiles, phone numbers, verification and administration, through the API (rerun on MySQL)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from service.models import User
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import SignedIn

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


@pytest.fixture
def alice(client: FlaskClient, fake_wechat: FakeWeChat) -> SignedIn:
    return SignedIn(client, fake_wechat, "oAlice")


@pytest.fixture
def bob(client: FlaskClient, fake_wechat: FakeWeChat) -> SignedIn:
    return SignedIn(client, fake_wechat, "oBob")


# -- the user's own profile


def test_edit_nickname_avatar_and_switch_between_self_roles(alice: SignedIn) -> None:
    status, body = alice.call(
        "patch",
        "/api/user/profile",
        json={"nickname": "爱丽丝", "avatar_url": "https://img.example/a.png", "role": 2},
    )
    assert status == 200
    me = body["data"]
    assert (me["nickname"], me["avatar_url"], me["role"], me["role_name"]) == (
        "爱丽丝",
        "https://img.example/a.png",
        2,
        "supervisor",
    )
    status, body = alice.call("post", "/api/user/profile", json={"role": 1})  # POST works too
    assert (status, body["data"]["role_name"]) == (200, "solo")


REFUSED_EDITS = [
    ({"status": 2}, 403, "field_not_allowed"),
    ({"openid": "oSomeoneElse"}, 403, "field_not_allowed"),
    ({"verification_status": 2}, 403, "field_not_allowed"),
    ({"nickname": "ok", "status": 2}, 403, "field_not_allowed"),
    ({"role": 3}, 403, "role_not_allowed"),
    ({"role": 9}, 403, "role_not_allowed"),
    ({"role": 7}, 400, "invalid_parameter"),
    ({"role": "2"}, 400, "invalid_parameter"),
    ({"role": True}, 400, "invalid_parameter"),
    ({"is_admin": True}, 400, "unknown_field"),
    ({}, 400, "missing_parameter"),
    ({"nickname": "n" * 65}, 400, "invalid_parameter"),
    ({"nickname": ["x"]}, 400, "invalid_parameter"),
    ({"avatar_url": "http://img.example/a.png"}, 400, "invalid_parameter"),
    ({"avatar_url": "https://" + "a" * 510}, 400, "invalid_parameter"),
    ({"nickname": "fine", "avatar_url": "javascript:alert(1)"}, 400, "invalid_parameter"),
]


@pytest.mark.parametrize(("body", "status", "error"), REFUSED_EDITS)
def test_refused_edits_change_nothing(
    alice: SignedIn, body: dict[str, Any], status: int, error: str
) -> None:
    before = alice.me()
    got, answer = alice.call("patch", "/api/user/profile", json=body)
    assert (got, answer["error"], answer["code"]) == (status, error, 0)
    assert alice.me() == before


def test_a_community_worker_cannot_switch_itself_back(alice: SignedIn, admin: SignedIn) -> None:
    alice.call(
        "post", "/api/community/verify", json={"name": "A", "workId": "W1", "workProof": "p"}
    )
    admin.call("post", f"/api/admin/verifications/{alice.id}", json={"decision": "approve"})
    status, body = alice.call("patch", "/api/user/profile", json={"role": 1})
    assert (status, body["error"]) == (403, "role_not_allowed")
    assert alice.me()["role"] == 3


# -- phone numbers


def test_bind_phone_number(alice: SignedIn, fake_wechat: FakeWeChat) -> None:
    status, body = alice.call(
        "post", "/api/user/phone", json={"code": fake_wechat.phone_code("+8613800001111")}
    )
    assert status == 200
    assert body["data"] == {
        "phone_number": "+8613800001111",
        "pure_phone_number": "13800001111",
        "country_code": "86",
    }
    assert alice.me()["phone_number"] == "+8613800001111"  # the owner sees all of it


def test_a_number_held_by_another_user_is_409(
    alice: SignedIn, bob: SignedIn, fake_wechat: FakeWeChat
) -> None:
    alice.call("post", "/api/user/phone", json={"code": fake_wechat.phone_code("13800002222")})
    status, body = bob.call(
        "post", "/api/user/phone", json={"code": fake_wechat.phone_code("13800002222")}
    )
    assert (status, body["error"]) == (409, "phone_taken")
    assert bob.me()["phone_number"] is None
    # Rebinding one's own number is fine.
    status, _ = alice.call(
        "post", "/api/user/phone", json={"code": fake_wechat.phone_code("13800002222")}
    )
    assert status == 200


def test_many_phone_requests_share_one_access_token(
    client: FlaskClient, fake_wechat: FakeWeChat
) -> None:
    for n in range(6):
        person = SignedIn(client, fake_wechat, f"oPhone{n}")
        code = fake_wechat.phone_code(f"1390000{n:04}")
        assert person.call("post", "/api/user/phone", json={"code": code})[0] == 200
    assert fake_wechat.calls["/wxa/business/getuserphonenumber"] == 6
    assert fake_wechat.calls["/cgi-bin/stable_token"] == 1


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({}, 400, "missing_parameter"),
        ({"code": 5}, 400, "invalid_parameter"),
        ({"code": "no-such-phone-code"}, 400, "invalid_code"),
    ],
)
def test_bad_phone_requests(alice: SignedIn, body: dict[str, Any], status: int, error: str) -> None:
    got, answer = alice.call("post", "/api/user/phone", json=body)
    assert (got, answer["error"]) == (status, error)
    assert alice.me()["phone_number"] is None


# -- verification


APPLICATION = {"name": "王小明", "workId": "SQ-0042", "workProof": "https://img.example/card.jpg"}


@pytest.fixture
def applicant(alice: SignedIn) -> SignedIn:
    """Alice, having applied to be a community worker."""
    status, body = alice.call("post", "/api/community/verify", json=APPLICATION)
    assert status == 200, body
    return alice


def approve(admin: SignedIn, person: SignedIn, note: str = "ok") -> None:
    status, body = admin.call(
        "post", f"/api/admin/verifications/{person.id}", json={"decision": "approve", "note": note}
    )
    assert status == 200, body


def test_an_application_is_pending(alice: SignedIn) -> None:
    status, body = alice.call("post", "/api/community/verify", json=APPLICATION)
    assert (status, body["data"]) == (
        200,
        {"verification_status": 1, "verification_status_name": "pending"},
    )


def test_applying_again_while_pending_is_409(applicant: SignedIn) -> None:
    status, body = applicant.call("post", "/api/community/verify", json=APPLICATION)
    assert (status, body["error"]) == (409, "verification_pending")


def test_admins_see_pending_applications(applicant: SignedIn, admin: SignedIn) -> None:
    status, body = admin.call("get", "/api/admin/verifications?status=1")
    assert status == 200
    assert [item["id"] for item in body["data"]["items"]] == [applicant.id]
    assert body["data"]["items"][0]["real_name"] == "王小明"


def test_an_approved_applicant_is_a_community_worker_and_sees_the_review(
    applicant: SignedIn, admin: SignedIn
) -> None:
    approve(admin, applicant, note="ok")
    me = applicant.me()
    assert (me["role"], me["role_name"]) == (3, "community")
    assert (me["verification_status"], me["verification_status_name"]) == (2, "approved")
    assert (me["reviewed_by"], me["review_note"], me["is_verified"]) == (admin.id, "ok", True)
    assert me["reviewed_at"] is not None


def test_an_approved_user_cannot_apply_again(applicant: SignedIn, admin: SignedIn) -> None:
    approve(admin, applicant)
    status, body = applicant.call("post", "/api/community/verify", json=APPLICATION)
    assert (status, body["error"]) == (409, "already_verified")


def test_rejected_users_may_apply_again(bob: SignedIn, admin: SignedIn) -> None:
    bob.call("post", "/api/community/verify", json=APPLICATION)
    status, _ = admin.call(
        "post", f"/api/admin/verifications/{bob.id}", json={"decision": "reject", "note": "blurry"}
    )
    assert status == 200
    me = bob.me()
    assert (me["verification_status_name"], me["role"], me["review_note"]) == (
        "rejected",
        1,
        "blurry",
    )
    status, body = bob.call("post", "/api/community/verify", json=APPLICATION)
    assert (status, body["data"]["verification_status"]) == (200, 1)
    assert bob.me()["review_note"] is None


def test_a_decision_is_made_once(alice: SignedIn, admin: SignedIn) -> None:
    alice.call("post", "/api/community/verify", json=APPLICATION)
    path = f"/api/admin/verifications/{alice.id}"
    assert admin.call("post", path, json={"decision": "reject"})[0] == 200
    status, body = admin.call("post", path, json={"decision": "approve"})
    assert (status, body["error"]) == (409, "verification_not_pending")
    assert alice.me()["role"] == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"name": "A", "workId": "W"}, "missing_parameter"),
        ({"name": "A" * 65, "workId": "W", "workProof": "p"}, "invalid_parameter"),
        ({"name": "A", "workId": 5, "workProof": "p"}, "invalid_parameter"),
        ({**APPLICATION, "role": 3}, "unknown_field"),
    ],
)
def test_bad_applications_change_nothing(alice: SignedIn, body: dict[str, Any], error: str) -> None:
    status, answer = alice.call("post", "/api/community/verify", json=body)
    assert (status, answer["error"]) == (400, error)
    assert alice.me()["verification_status"] == 0


# -- administration


def admin_routes(app: Flask) -> list[tuple[str, str]]:
    """Every admin route in the URL map, with a concrete path: new routes are covered too."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/admin"):
            path = re.sub(r"<(?:[^:>]+:)?\w+>", "1", rule.rule)
            routes += [(m, path) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


def test_no_non_admin_reaches_any_admin_route(
    app: Flask, client: FlaskClient, alice: SignedIn, bob: SignedIn
) -> None:
    routes = admin_routes(app)
    assert len(routes) >= 4
    before = [alice.me(), bob.me()]
    for method, path in routes:
        status, body = alice.call(
            method.lower(), path, json={"status": 2, "role": 9, "decision": "approve"}
        )
        assert (status, body["error"]) == (403, "admin_required"), (method, path)
        anonymous = getattr(client, method.lower())(path, json={})
        assert (anonymous.status_code, anonymous.json["error"]) == (401, "token_missing")
    assert [alice.me(), bob.me()] == before


def test_admin_lists_users_with_filters(alice: SignedIn, bob: SignedIn, admin: SignedIn) -> None:
    bob.call("patch", "/api/user/profile", json={"role": 2})
    status, body = admin.call("get", "/api/admin/users?role=2")
    assert status == 200
    assert [u["id"] for u in body["data"]["items"]] == [bob.id]
    status, body = admin.call("get", "/api/admin/users?page=1&size=2")
    assert status == 200
    assert (body["data"]["total"], len(body["data"]["items"]), body["data"]["size"]) == (3, 2, 2)
    status, body = admin.call("get", "/api/admin/users?page=2&size=2")
    assert status == 200
    assert len(body["data"]["items"]) == 1


@pytest.mark.parametrize(
    "query", ["size=0", "size=101", "page=0", "page=x", "role=4", "status=3", "size=-1"]
)
def test_bad_list_parameters_are_400(admin: SignedIn, query: str) -> None:
    status, body = admin.call("get", f"/api/admin/users?{query}")
    assert (status, body["error"]) == (400, "invalid_parameter")


def test_verifications_are_newest_first_and_paginated(
    client: FlaskClient, fake_wechat: FakeWeChat, admin: SignedIn
) -> None:
    people = [SignedIn(client, fake_wechat, f"oApplicant{n}") for n in range(5)]
    for person in people:
        person.call("post", "/api/community/verify", json=APPLICATION)
    status, body = admin.call("get", "/api/admin/verifications?size=3")
    assert status == 200
    ids = [item["id"] for item in body["data"]["items"]]
    assert ids == [p.id for p in reversed(people)][:3]
    assert body["data"]["total"] == 5


def test_admin_disables_and_reenables_a_user(alice: SignedIn, admin: SignedIn) -> None:
    status, body = admin.call("patch", f"/api/admin/users/{alice.id}", json={"status": 2})
    assert (status, body["data"]["status_name"]) == (200, "disabled")
    status, body = alice.call("get", "/api/user/profile")
    assert (status, body["error"]) == (403, "user_disabled")
    admin.call("patch", f"/api/admin/users/{alice.id}", json={"status": 1})
    assert alice.call("get", "/api/user/profile")[0] == 200


def test_admin_sees_phone_numbers_masked(
    alice: SignedIn, admin: SignedIn, fake_wechat: FakeWeChat
) -> None:
    alice.call("post", "/api/user/phone", json={"code": fake_wechat.phone_code("13800003333")})
    status, body = admin.call("get", "/api/admin/users")
    assert status == 200
    shown = {u["id"]: u["phone_number"] for u in body["data"]["items"]}
    assert shown[alice.id] == "138****3333"


@pytest.mark.parametrize("body", [{"status": 2}, {"role": 1}, {"role": 3, "status": 1}])
def test_an_admin_cannot_disable_or_demote_itself(admin: SignedIn, body: dict[str, Any]) -> None:
    status, answer = admin.call("patch", f"/api/admin/users/{admin.id}", json=body)
    assert (status, answer["error"]) == (403, "cannot_modify_self")
    assert (admin.me()["role"], admin.me()["status"]) == (9, 1)


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/api/admin/users/999999", {"status": 2}, 404, "user_not_found"),
        ("/api/admin/verifications/999999", {"decision": "approve"}, 404, "user_not_found"),
        ("/api/admin/verifications/{alice}", {"decision": "maybe"}, 400, "invalid_parameter"),
        (
            "/api/admin/verifications/{alice}",
            {"decision": "approve"},
            409,
            "verification_not_pending",
        ),
        ("/api/admin/users/{alice}", {"role": 5}, 400, "invalid_parameter"),
        ("/api/admin/users/{alice}", {"openid": "x"}, 400, "unknown_field"),
    ],
)
def test_bad_admin_requests(
    alice: SignedIn, admin: SignedIn, path: str, body: dict[str, Any], status: int, error: str
) -> None:
    method = "patch" if "/users/" in path else "post"
    got, answer = admin.call(method, path.format(alice=alice.id), json=body)
    assert (got, answer["error"]) == (status, error)


def test_promote_by_id_and_unknown_user(alice: SignedIn, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["users", "promote", str(alice.id), "--role", "supervisor"])
    assert result.exit_code == 0, result.output
    assert User.get_by_id(alice.id).role == 2
    missing = runner.invoke(args=["users", "promote", "oNobody"])
    assert missing.exit_code != 0
    assert "no user" in missing.output

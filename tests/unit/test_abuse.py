"""Hostile input, field by field: always a 4xx in the envelope, and no stored data changed.

Every operation that takes a JSON body is covered, as an admin so that each
request reaches its own validation. Rerun on MySQL by the integration suite.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from service import db
from service.models import MODELS, User
from service.openapi import document
from tests.support.apps import Seeded
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import bearer, login, signed_in_as
from tests.support.rows import snapshot

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration

ERROR_KEYS = set(document()["components"]["schemas"]["ErrorKey"]["enum"])


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    valid: dict[str, Any]  # a body the operation would accept
    texts: list[str]  # its text fields
    ints: list[str]  # its integer fields

    @property
    def fields(self) -> list[str]:
        return self.texts + self.ints


OPERATIONS = [
    Operation("post", "/api/count", {"action": "inc"}, ["action"], []),
    Operation(
        "post",
        "/api/login",
        {"code": "c", "nickname": "n", "avatar_url": "https://a.example/x"},
        ["code", "nickname", "avatar_url"],
        [],
    ),
    Operation("post", "/api/refresh_token", {"refresh_token": "r"}, ["refresh_token"], []),
    Operation(
        "patch",
        "/api/user/profile",
        {"nickname": "n", "avatar_url": "https://a.example/x", "role": 2},
        ["nickname", "avatar_url"],
        ["role"],
    ),
    Operation("post", "/api/user/phone", {"code": "c"}, ["code"], []),
    Operation(
        "post",
        "/api/community/verify",
        {"name": "n", "workId": "w", "workProof": "p"},
        ["name", "workId", "workProof"],
        [],
    ),
    Operation(
        "post",
        "/api/admin/verifications/{target}",
        {"decision": "approve", "note": "n"},
        ["decision", "note"],
        [],
    ),
    Operation(
        "patch", "/api/admin/users/{target}", {"status": 1, "role": 1}, [], ["status", "role"]
    ),
    Operation(
        "post",
        "/api/user/subscriptions",
        {"errMsg": "requestSubscribeMessage:ok", "tAbuseTemplate": "accept"},
        ["tAbuseTemplate"],
        [],
    ),
]


@pytest.fixture(params=OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def operation(request: pytest.FixtureRequest) -> Operation:
    op: Operation = request.param
    return op


WRONG_FOR_TEXT = [1, 1.5, True, [], {}, ["x"], {"$gt": ""}]
WRONG_FOR_INT = ["1", 1.5, True, [], {}, [1], 10**30, -(10**30)]


@pytest.fixture
def world(
    app: Flask,
    client: FlaskClient,
    fake_wechat: FakeWeChat,
    runner: FlaskCliRunner,
    seeded: Seeded,
) -> dict[str, Any]:
    """An admin acting, a user with a pending application as the target, a counter at 5.

    Made through the API once per run and database, then copied for each test.
    """

    def build() -> dict[str, Any]:
        admin = signed_in_as("admin", client, fake_wechat, runner, "oAbuseAdmin")
        target = login(client, fake_wechat, "oAbuseTarget")
        applied = client.post(
            "/api/community/verify",
            json={"name": "n", "workId": "w", "workProof": "p"},
            headers=bearer(target["token"]),
        )
        assert applied.status_code == 200, applied.get_data(as_text=True)
        for _ in range(5):
            client.post("/api/count", json={"action": "inc"})
        return {"headers": admin.headers, "target": target["user_id"]}

    made = seeded("abuse-world", build)
    assert client.get("/api/count").json["data"] == 5  # the world is there, made or copied
    return made


def send(client: FlaskClient, world: dict[str, Any], op: Operation, **kwargs: Any) -> Any:
    path = op.path.format(target=world["target"])
    return getattr(client, op.method)(path, headers=world["headers"], **kwargs)


def assert_refused(response: Any) -> None:
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    body = response.json
    assert body["code"] == 0
    assert body["data"] == {}
    assert body["error"] in ERROR_KEYS


def refused_without_change(
    client: FlaskClient, world: dict[str, Any], operation: Operation, **request: Any
) -> None:
    """Send the request: it must be refused in the envelope, and leave every row as it was."""
    before = snapshot()
    assert_refused(send(client, world, operation, **request))
    assert snapshot() == before


def raw_json(text: str | bytes) -> dict[str, Any]:
    return {"data": text, "content_type": "application/json"}


def test_oversized_body(client: FlaskClient, world: dict[str, Any], operation: Operation) -> None:
    body = {**operation.valid, "padding": "x" * 70_000}
    refused_without_change(client, world, operation, json=body)


def test_deeply_nested_json(
    client: FlaskClient, world: dict[str, Any], operation: Operation
) -> None:
    field = operation.fields[0]
    raw = json.dumps({**operation.valid, field: "__NEST__"}).replace(
        '"__NEST__"', "[" * 20_000 + "]" * 20_000
    )
    refused_without_change(client, world, operation, **raw_json(raw))


def test_invalid_utf8(client: FlaskClient, world: dict[str, Any], operation: Operation) -> None:
    raw = json.dumps(operation.valid).encode().replace(b"{", b'{"\xff\xfe": "\xc3\x28", ', 1)
    refused_without_change(client, world, operation, **raw_json(raw))


def test_huge_integers_in_every_field(
    client: FlaskClient, world: dict[str, Any], operation: Operation
) -> None:
    for field in operation.fields:
        for huge in ("1" + "0" * 30, "9" * 5000):
            raw = json.dumps({**operation.valid, field: "__N__"}).replace('"__N__"', huge)
            refused_without_change(client, world, operation, **raw_json(raw))


def test_10000_character_strings_in_every_field(
    client: FlaskClient, world: dict[str, Any], operation: Operation
) -> None:
    for field in operation.fields:
        for long in ("x" * 10_000, "新" * 10_000, "https://" + "a" * 10_000):
            body = {**operation.valid, field: long}
            refused_without_change(client, world, operation, json=body)


def test_wrong_json_types_in_every_field(
    client: FlaskClient, world: dict[str, Any], operation: Operation
) -> None:
    cases = [(f, w) for f in operation.texts for w in WRONG_FOR_TEXT]
    cases += [(f, w) for f in operation.ints for w in WRONG_FOR_INT]
    assert cases
    for field, wrong in cases:
        body = {**operation.valid, field: wrong}
        refused_without_change(client, world, operation, json=body)


def test_body_of_the_wrong_json_type(
    client: FlaskClient, world: dict[str, Any], operation: Operation
) -> None:
    for raw in ("[]", '"text"', "42", "null", "true", json.dumps([operation.valid])):
        refused_without_change(client, world, operation, **raw_json(raw))


SQL_LOOKING = [
    "' OR '1'='1",
    "1; DROP TABLE users; --",
    "'); DELETE FROM users; --",
    "\\'; SELECT SLEEP(5); --",
    '" UNION SELECT openid FROM users --',
]


@pytest.mark.parametrize("text", SQL_LOOKING)
def test_sql_looking_text_is_stored_as_text(
    client: FlaskClient, world: dict[str, Any], text: str
) -> None:
    """Where any text is allowed, SQL is just text: stored verbatim, never executed."""
    users_before = User.select().count()
    response = client.patch("/api/user/profile", json={"nickname": text}, headers=world["headers"])
    assert response.status_code == 200
    assert response.json["data"]["nickname"] == text
    assert User.select().count() == users_before
    assert set(db.database.get_tables()) >= {m._meta.table_name for m in MODELS}


def test_sql_looking_text_elsewhere_is_refused_or_harmless(
    client: FlaskClient, world: dict[str, Any], operation: Operation
) -> None:
    """Codes, tokens, actions, decisions: SQL in them is simply not a valid value."""
    for field in operation.texts:
        for text in SQL_LOOKING:
            before = snapshot()
            response = send(client, world, operation, json={**operation.valid, field: text})
            if response.status_code >= 400:
                assert_refused(response)
                assert snapshot() == before
            else:  # a free-text field (name, note): kept verbatim
                assert text in json.dumps(snapshot(), ensure_ascii=False, default=str)
            assert set(db.database.get_tables()) >= {m._meta.table_name for m in MODELS}


def test_every_json_operation_is_covered(app: Flask) -> None:
    covered = {(op.method, op.path.replace("{target}", "{user_id}")) for op in OPERATIONS}
    with_bodies = {
        (method, path)
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "requestBody" in operation
    }
    assert with_bodies - covered == {("post", "/api/user/profile")}  # the same view as PATCH

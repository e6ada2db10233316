"""Forged, altered and stale access tokens: each refused with the right status and key."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient

from tests.support.apps import TEST_TOKEN_SECRET
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import bearer, login

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_refused(client: FlaskClient, headers: dict[str, str], status: int, error: str) -> None:
    response = client.get("/api/user/profile", headers=headers)
    assert response.status_code == status
    assert response.json["error"] == error
    assert response.json["code"] == 0


@pytest.fixture
def token(client: FlaskClient, fake_wechat: FakeWeChat) -> str:
    return str(login(client, fake_wechat, "oTarget")["token"])


def test_the_genuine_token_works(client: FlaskClient, token: str) -> None:
    assert client.get("/api/user/profile", headers=bearer(token)).status_code == 200


def test_alg_none_is_refused(client: FlaskClient, token: str) -> None:
    claims = claims_of(token) | {"role": 9}
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    forged = f"{header}.{b64(json.dumps(claims).encode())}."
    assert_refused(client, bearer(forged), 401, "token_invalid")


def test_signed_with_another_key_is_refused(client: FlaskClient, token: str) -> None:
    forged = jwt.encode(claims_of(token), "another-key-of-sufficient-length-123456", "HS256")
    assert_refused(client, bearer(forged), 401, "token_invalid")


def test_other_algorithm_is_refused(client: FlaskClient, token: str) -> None:
    forged = jwt.encode(claims_of(token), TEST_TOKEN_SECRET, "HS512")
    assert_refused(client, bearer(forged), 401, "token_invalid")


def test_expired_is_refused(client: FlaskClient, token: str) -> None:
    now = int(time.time())
    stale = claims_of(token) | {"iat": now - 7300, "exp": now - 100}
    assert_refused(
        client, bearer(jwt.encode(stale, TEST_TOKEN_SECRET, "HS256")), 401, "token_expired"
    )


@pytest.mark.parametrize("claim", ["exp", "iat", "sub"])
def test_missing_required_claim_is_refused(client: FlaskClient, token: str, claim: str) -> None:
    claims = claims_of(token)
    del claims[claim]
    assert_refused(
        client, bearer(jwt.encode(claims, TEST_TOKEN_SECRET, "HS256")), 401, "token_invalid"
    )


def test_tampered_payload_is_refused(client: FlaskClient, token: str) -> None:
    header, _, signature = token.split(".")
    payload = b64(json.dumps(claims_of(token) | {"role": 9}).encode())
    assert_refused(client, bearer(f"{header}.{payload}.{signature}"), 401, "token_invalid")


def test_someone_elses_session_is_refused(
    client: FlaskClient, fake_wechat: FakeWeChat, token: str
) -> None:
    """A validly signed token naming another user with this session's key."""
    other = login(client, fake_wechat, "oOther")
    claims = claims_of(token) | {"sub": str(other["user_id"])}
    assert_refused(
        client, bearer(jwt.encode(claims, TEST_TOKEN_SECRET, "HS256")), 401, "token_invalid"
    )


# A disabled or deleted user's genuine token: tests/unit/test_login_flow.py (ASKS);
# Authorization headers of every shape: tests/unit/test_session_edges.py (AUTHORIZATION).


def test_no_authorization_is_token_missing(client: FlaskClient) -> None:
    assert_refused(client, {}, 401, "token_missing")


def test_token_in_the_query_string_is_not_read(client: FlaskClient, token: str) -> None:
    response = client.get(f"/api/user/profile?token={token}&access_token={token}")
    assert (response.status_code, response.json["error"]) == (401, "token_missing")

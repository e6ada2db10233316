"""Signing in through the API, as a mini program would, for tests.

One `SignedIn` user over either transport: the Flask test client (in the
process) or HTTP to a live server. The tests read the same either way, so a
scenario written for one runs on the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from flask.testing import FlaskClient, FlaskCliRunner

from tests.support.fake_wechat import FakeWeChat


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]


class Transport(Protocol):
    def __call__(
        self, method: str, path: str, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Reply: ...


def over_client(client: FlaskClient) -> Transport:
    """Requests through the Flask test client: no server, no sockets."""

    def send(
        method: str, path: str, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Reply:
        response = client.open(path, method=method.upper(), headers=dict(headers or {}), **kwargs)
        body = response.get_json(silent=True)
        return Reply(response.status_code, dict(body or {}), dict(response.headers))

    return send


def over_http(base_url: str, session: requests.Session | None = None) -> Transport:
    """Requests over HTTP to a live server at `base_url`, in one keep-alive session."""
    http = session or requests.Session()

    def send(
        method: str, path: str, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Reply:
        response = http.request(
            method.upper(), f"{base_url}{path}", headers=dict(headers or {}), timeout=10, **kwargs
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        return Reply(response.status_code, dict(body or {}), dict(response.headers))

    return send


def transport_of(client: FlaskClient | Transport) -> Transport:
    return over_client(client) if isinstance(client, FlaskClient) else client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def attempt_login(
    client: FlaskClient | Transport,
    fake: FakeWeChat,
    openid: str | None = None,
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
    **extra: Any,
) -> Reply:
    """POST /api/login with `code`, or a fresh one for `openid`, whatever the answer."""
    code = fake.login_code(openid) if code is None else code
    return transport_of(client)("POST", "/api/login", headers, json={"code": code, **extra})


def login(
    client: FlaskClient | Transport,
    fake: FakeWeChat,
    openid: str | None = None,
    code: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """POST /api/login with `code`, or a fresh one for `openid`; the data (it must succeed)."""
    reply = attempt_login(client, fake, openid, code=code, **extra)
    assert reply.status == 200, reply.body
    data: dict[str, Any] = reply.body["data"]
    return data


class SignedIn:
    """A user signed in with a code the fake WeChat issued, calling the API with its token."""

    def __init__(
        self, client: FlaskClient | Transport, fake: FakeWeChat, openid: str, **extra: Any
    ) -> None:
        self.send = transport_of(client)
        self.openid = openid
        self.grant = login(self.send, fake, openid, **extra)
        self.id: int = self.grant["user_id"]
        self.token: str = self.grant["token"]
        self.headers = bearer(self.token)

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        reply = self.send(method, path, self.headers, **kwargs)
        return reply.status, reply.body

    def me(self) -> dict[str, Any]:
        status, body = self.call("GET", "/api/user/profile")
        assert status == 200, body
        data: dict[str, Any] = body["data"]
        return data


def signed_in_as(
    role: str, client: FlaskClient, fake: FakeWeChat, runner: FlaskCliRunner, openid: str
) -> SignedIn:
    """A user signed in, then given `role` by `flask users promote`, as an operator does it."""
    person = SignedIn(client, fake, openid)
    result = runner.invoke(args=["users", "promote", openid, "--role", role])
    assert result.exit_code == 0, result.output
    return person

"""Secrets never reach a log line or a response, however verbose the logging."""

from __future__ import annotations

import json
import logging

import pytest
from flask.testing import FlaskClient

from service.config import Config
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import bearer, login

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


def test_full_login_flow_logs_no_secret(
    client: FlaskClient,
    fake_wechat: FakeWeChat,
    config: Config,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, from every library
    openid = "oSecretOpenid1234567890abcdef"
    data = login(client, fake_wechat, openid)
    rotated = client.post("/api/refresh_token", json={"refresh_token": data["refresh_token"]})
    fresh = rotated.json["data"]
    client.get("/api/user/profile", headers=bearer(fresh["token"]))
    client.post("/api/logout", headers=bearer(fresh["token"]))
    client.post("/api/refresh_token", json={"refresh_token": fresh["refresh_token"]})

    text = "\n".join(
        f"{r.getMessage()} {json.dumps({k: str(v) for k, v in r.__dict__.items()})}"
        for r in caplog.records
    )
    assert "code2session ok" in text  # the flow really logged
    forbidden = {
        "session_key": fake_wechat.issued_session_keys[0],
        "TOKEN_SECRET": config.token_secret,
        "WX_SECRET": config.wx_secret,
        "full openid": openid,
        "access token": data["token"],
        "refresh token": data["refresh_token"],
        "rotated access token": fresh["token"],
        "rotated refresh token": fresh["refresh_token"],
    }
    for name, value in forbidden.items():
        assert value not in text, f"{name} appears in the log"
    assert "oSe***def" in text  # the masked form is how an openid appears


def test_session_key_never_reaches_a_response(client: FlaskClient, fake_wechat: FakeWeChat) -> None:
    data = login(client, fake_wechat, "oNoKey")
    body = client.get("/api/user/profile", headers=bearer(data["token"])).get_data(as_text=True)
    for key in fake_wechat.issued_session_keys:
        assert key not in body
        assert key not in json.dumps(data)


def test_credentials_in_urls_are_redacted_in_formatted_lines() -> None:
    from service.logs import JsonFormatter

    record = logging.makeLogRecord(
        {
            "name": "urllib3.connectionpool",
            "levelname": "DEBUG",
            "msg": '"GET /sns/jscode2session?appid=wx1&secret=%s&js_code=%s HTTP/1.1" 200',
            "args": ("the-app-secret", "the-code"),
        }
    )
    line = JsonFormatter().format(record)
    assert "the-app-secret" not in line
    assert "the-code" not in line
    assert "appid=wx1" in line
    assert "secret=[redacted]" in line

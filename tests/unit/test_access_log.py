"""Every request leaves exactly one access-log line with its request id, and no secrets."""

from __future__ import annotations

import json
import logging

import pytest
from flask.testing import FlaskClient

from service import counter
from service.logs import JsonFormatter, mask, mask_phone
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import SignedIn


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "service.access"]


def test_each_request_logs_one_line_with_its_request_id(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="service")
    requests = [
        ("get", "/api/count", {}, 200),
        ("post", "/api/count", {"json": {"action": "inc"}}, 200),
        ("post", "/api/count", {"json": {"action": "nope"}}, 400),
        ("get", "/api/missing", {}, 404),
        ("get", "/healthz", {}, 200),
        ("get", "/", {}, 200),
    ]
    for n, (method, path, kwargs, _) in enumerate(requests):
        getattr(client, method)(path, headers={"X-Request-ID": f"rid-{n}"}, **kwargs)

    records = access_records(caplog)
    assert [r.request_id for r in records] == [f"rid-{n}" for n in range(len(requests))]  # type: ignore[attr-defined]
    for record, (method, path, _, status) in zip(records, requests, strict=True):
        assert (record.method, record.path, record.status) == (method.upper(), path, status)  # type: ignore[attr-defined]
        assert record.duration_ms >= 0  # type: ignore[attr-defined]


def test_a_crash_still_logs_one_access_line(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash() -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(counter, "current", crash)
    caplog.set_level(logging.INFO, logger="service")
    client.get("/api/count", headers={"X-Request-ID": "rid-crash"})
    records = access_records(caplog)
    assert [(r.request_id, r.status) for r in records] == [("rid-crash", 500)]  # type: ignore[attr-defined]


def test_query_strings_never_reach_the_log(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="service")
    client.get("/api/count?access_token=tok-SECRET-value&code=abc")
    line = JsonFormatter().format(access_records(caplog)[0])
    assert "tok-SECRET-value" not in line
    assert json.loads(line)["path"] == "/api/count"


def test_access_line_is_one_json_object(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="service")
    client.get("/api/count", headers={"X-Request-ID": "rid-json"})
    line = JsonFormatter().format(access_records(caplog)[0])
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["logger"] == "service.access"
    assert {"method", "path", "status", "duration_ms", "request_id", "time", "level"} <= set(entry)


@pytest.mark.parametrize(
    ("value", "masked"),
    [("oGZUI0egBJY1zhBYw2KhdUfwVJJE", "oGZ***JJE"), ("short", "***"), ("", "***")],
)
def test_identifiers_are_masked(value: str, masked: str) -> None:
    assert mask(value) == masked


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+8613812345678", "+86138****5678"),
        ("13812345678", "138****5678"),
        ("1234567", "****4567"),
        ("123456", "***"),
        ("", "***"),
    ],
)
def test_phone_numbers_are_masked_to_their_first_and_last_digits(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


def test_a_signed_in_request_is_logged_with_the_masked_openid(
    client: FlaskClient, fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    user = SignedIn(client, fake_wechat, "oLoggedReader42")
    caplog.set_level(logging.INFO, logger="service")
    caplog.clear()
    assert user.call("GET", "/api/user/profile")[0] == 200
    (record,) = access_records(caplog)
    assert record.openid == mask("oLoggedReader42") == "oLo***r42"  # type: ignore[attr-defined]

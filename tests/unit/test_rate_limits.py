"""POST /api/login is limited per client address and per openid (rerun on MySQL)."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import db, ratelimit
from service.errors import ApiError
from service.models import RateLimit, User, utcnow
from service.ratelimit import Limit
from tests.support.apps import AppFactory
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import Reply, attempt_login

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


@pytest.fixture
def limited(make_app: AppFactory) -> Flask:
    """Small limits, and the client address taken from one trusted proxy's X-Forwarded-For."""
    return make_app(
        login_limit_per_address=3,
        login_limit_per_openid=2,
        login_limit_window=60,
        trusted_proxy_count=1,
    )


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1_800_000_010.0]  # 10 s into a 60 s window
    monkeypatch.setattr(ratelimit, "clock", lambda: now[0])
    return now


def login_from(client: FlaskClient, fake: FakeWeChat, openid: str, address: str) -> Reply:
    """A login from `address`, as the trusted proxy reports it in X-Forwarded-For."""
    return attempt_login(client, fake, openid, {"X-Forwarded-For": address})


def test_one_address_is_limited_before_wechat_is_asked(
    limited: Flask, fake_wechat: FakeWeChat, frozen_clock: list[float]
) -> None:
    client = limited.test_client()
    statuses = [
        login_from(client, fake_wechat, f"oAddr{n}", "203.0.113.7").status for n in range(3)
    ]
    assert statuses == [200, 200, 200]
    calls = fake_wechat.calls["/sns/jscode2session"]
    refused = login_from(client, fake_wechat, "oAddr9", "203.0.113.7")
    assert (refused.status, refused.body["error"], refused.body["code"]) == (429, "rate_limited", 0)
    assert refused.headers["Retry-After"] == "50"  # the window ends 50 s from now
    assert fake_wechat.calls["/sns/jscode2session"] == calls  # WeChat was not asked
    assert User.select().where(User.openid == "oAddr9").count() == 0
    # Another address is unaffected.
    assert login_from(client, fake_wechat, "oAddr9", "198.51.100.1").status == 200


def test_one_openid_is_limited_across_addresses(
    limited: Flask, fake_wechat: FakeWeChat, frozen_clock: list[float]
) -> None:
    client = limited.test_client()
    assert login_from(client, fake_wechat, "oSame", "192.0.2.1").status == 200
    assert login_from(client, fake_wechat, "oSame", "192.0.2.2").status == 200
    refused = login_from(client, fake_wechat, "oSame", "192.0.2.3")
    assert (refused.status, refused.body["error"]) == (429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0


def test_the_next_window_starts_afresh(
    limited: Flask, fake_wechat: FakeWeChat, frozen_clock: list[float]
) -> None:
    client = limited.test_client()
    for n in range(3):
        login_from(client, fake_wechat, f"oWin{n}", "203.0.113.9")
    assert login_from(client, fake_wechat, "oWin3", "203.0.113.9").status == 429
    frozen_clock[0] += 60
    assert login_from(client, fake_wechat, "oWin3", "203.0.113.9").status == 200


def test_a_forged_forwarded_for_entry_does_not_escape_the_limit(
    limited: Flask, fake_wechat: FakeWeChat, frozen_clock: list[float]
) -> None:
    """Only the last hop, added by the trusted proxy, counts; a client's own entries do not."""
    client = limited.test_client()
    statuses = [
        login_from(client, fake_wechat, f"oForge{n}", f"10.0.0.{n}, 203.0.113.50").status
        for n in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_concurrent_attempts_never_exceed_the_limit(shared_app: Flask) -> None:
    app = shared_app
    limit = Limit("probe", 10, 3600)

    def attempt(_: int) -> bool:
        with app.app_context():
            try:
                ratelimit.hit(limit, "one-key")
                return True
            except ApiError:
                return False
            finally:
                db.close_connection()

    with ThreadPoolExecutor(max_workers=8) as pool:
        allowed = sum(pool.map(attempt, range(40)))
    assert allowed == 10


def test_expired_windows_are_purged_once_per_interval_per_process(
    app: Flask, frozen_clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt in a process deletes expired windows; the next purge waits PURGE_EVERY."""
    monkeypatch.setattr(ratelimit, "_next_purge", 0.0)
    limit = Limit("purge", 1000, 60)

    def expired_row(name: str) -> None:
        RateLimit.create(bucket=name, hits=1, expires_at=utcnow() - timedelta(days=1))

    def buckets() -> set[str]:
        return {row.bucket for row in RateLimit.select(RateLimit.bucket)}

    expired_row("old-1")
    ratelimit.hit(limit, "k")
    assert "old-1" not in buckets()

    expired_row("old-2")
    frozen_clock[0] += ratelimit.PURGE_EVERY - 1
    ratelimit.hit(limit, "k")
    assert "old-2" in buckets()  # not yet: the last purge was under PURGE_EVERY ago

    frozen_clock[0] += 1
    ratelimit.hit(limit, "k")
    remaining = buckets()
    assert "old-2" not in remaining
    assert any(name.startswith("purge:") for name in remaining)  # live windows stay


def test_a_window_is_stored_by_name_window_and_a_bounded_digest(
    app: Flask, frozen_clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key is stored hashed and cut to 40 hex digits; the window ends in UTC, whatever
    the process's own time zone."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        ratelimit.hit(Limit("shape", 5, 60), "203.0.113.77")
    finally:
        monkeypatch.undo()
        time.tzset()
    (row,) = RateLimit.select()
    digest = hashlib.sha256(b"203.0.113.77").hexdigest()[:40]
    assert row.bucket == f"shape:{1_800_000_010 // 60}:{digest}"
    assert (row.hits, row.expires_at) == (1, datetime(2027, 1, 15, 8, 1))


def test_retry_after_is_at_least_one_second(
    limited: Flask, fake_wechat: FakeWeChat, frozen_clock: list[float]
) -> None:
    frozen_clock[0] += 49.5  # half a second before the window ends
    client = limited.test_client()
    for n in range(3):
        assert login_from(client, fake_wechat, f"oLast{n}", "203.0.113.8").status == 200
    refused = login_from(client, fake_wechat, "oLast9", "203.0.113.8")
    assert (refused.status, refused.headers["Retry-After"]) == (429, "1")

"""A server killed between a review's commit and its subscribe message: `flask outbox drain`
sends the message once. Under gunicorn's gevent worker, on MySQL.

The fake WeChat holds the sender where the kill should find it: fetching its
access token (nothing sent yet), or with the message itself under way (it may
arrive, so it must not be sent again).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from service.models import utcnow
from tests.support.fake_wechat import SUBSCRIBE_SEND, FakeWeChat
from tests.support.identity import SignedIn, over_http
from tests.support.live_server import PROJECT_ROOT, LiveServer, promote, service_env
from tests.support.mysql import MySQLServer
from tests.support.outbox import TEMPLATE, eventually
from tests.support.waiting import wait_until

TOKEN = "/cgi-bin/stable_token"


@pytest.fixture
def service(mysql_server: MySQLServer, fake_wechat: FakeWeChat) -> Iterator[LiveServer]:
    with mysql_server.scratch_database() as name:
        env = {
            **service_env(mysql_server.url(name), fake_wechat),
            # Short timeouts make a short claim (service/outbox.py, lease_seconds: 10 s).
            "WX_CONNECT_TIMEOUT": "1",
            "WX_READ_TIMEOUT": "1",
            "WX_TEMPLATE_VERIFICATION_RESULT": TEMPLATE,
        }
        with LiveServer(env, workers=1) as server:
            yield server


def drain(server: LiveServer) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "outbox", "drain"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-1]


def notification(mysql_server: MySQLServer, server: LiveServer) -> dict[str, Any]:
    database = server.env["DATABASE_URL"].rsplit("/", 1)[1]
    columns = ("status", "attempts", "last_error", "in_flight", "claimed_until")
    (row,) = mysql_server.execute(f"SELECT {', '.join(columns)} FROM `{database}`.notifications")
    return dict(zip(columns, row, strict=True))


@pytest.mark.parametrize(
    ("held_at", "drained"),
    [
        # Killed fetching its token: nothing left; the drain sends it, once the claim expires.
        (TOKEN, {"status": "sent", "attempts": 2, "last_error": None, "in_flight": 0}),
        # Killed with the message under way: it arrived, and the drain does not send it again.
        (SUBSCRIBE_SEND, {"status": "failed", "attempts": 1, "last_error": "outcome_unknown"}),
    ],
    ids=["before-sending", "while-sending"],
)
def test_a_message_the_killed_server_left_is_sent_once(
    service: LiveServer,
    mysql_server: MySQLServer,
    fake_wechat: FakeWeChat,
    held_at: str,
    drained: dict[str, Any],
) -> None:
    send = over_http(service.url)
    applicant = SignedIn(send, fake_wechat, "oKilledApplicant")
    applicant.call(
        "POST", "/api/community/verify", json={"name": "李雷", "workId": "W9", "workProof": "p"}
    )
    admin = SignedIn(send, fake_wechat, "oKilledAdmin")
    promote(service, "oKilledAdmin")
    status, body = applicant.call("POST", "/api/user/subscriptions", json={TEMPLATE: "accept"})
    assert (status, body["data"]["remaining"]) == (200, {TEMPLATE: 1})
    fake_wechat.subscribe("oKilledApplicant", TEMPLATE)

    fake_wechat.stall(held_at, 60, times=2)  # a token is asked twice before giving up
    status, _ = admin.call(
        "POST", f"/api/admin/verifications/{applicant.id}", json={"decision": "approve"}
    )
    assert status == 200  # answered; WeChat holds the sender
    eventually(lambda: fake_wechat.stalling[held_at] == 1)
    os.killpg(service.pid, signal.SIGKILL)  # the master and its worker, at once
    service.wait(10)
    fake_wechat.release(held_at)

    if held_at == SUBSCRIBE_SEND:  # WeChat got the request before the kill: it delivers
        eventually(lambda: fake_wechat.delivered)
    claimed_until = notification(mysql_server, service)["claimed_until"]
    assert claimed_until is not None, "the killed server held no claim"
    early = drain(service)
    if utcnow() < claimed_until:  # this drain ended while the dead server's claim held
        assert notification(mysql_server, service)["status"] == "pending", early
    # Nothing to do until the claim expires: a drain then, not one every half second
    # (each is a process of its own, which loads the app: about 1 s of CPU).
    wait_until(lambda: utcnow() > claimed_until, 60, "the dead server's claim to expire")
    deadline = time.monotonic() + 60
    while notification(mysql_server, service)["status"] == "pending":
        assert time.monotonic() < deadline, "the drain never took the row over"
        drain(service)
        time.sleep(0.5)
    row = notification(mysql_server, service)
    assert {key: row[key] for key in drained} == drained
    assert "sent 0" in drain(service)  # and never again
    assert [m["touser"] for m in fake_wechat.delivered] == ["oKilledApplicant"]
    assert fake_wechat.subscriptions_left("oKilledApplicant", TEMPLATE) == 0

"""The outbox: a verification review's subscribe message, written with the review and sent
after it, against the fake WeChat (rerun on MySQL).

Each test runs on a database the service's sender thread can share with the
test (a file on SQLite), and waits for every sender before it ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service import create_app, db, outbox, subscriptions
from service.models import Notification, User, VerificationStatus, utcnow
from service.templates import VERIFICATION_RESULT
from tests.support.apps import settings_for
from tests.support.databases import Database
from tests.support.fake_wechat import SUBSCRIBE_SEND, FakeWeChat
from tests.support.identity import SignedIn
from tests.support.outbox import TEMPLATE, eventually, senders_done

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration

AppBuilder = Callable[..., Flask]

#: What a write the database refuses answers: SQLite's trigger error is unknown to the
#: service (500), MySQL's SIGNAL comes as an OperationalError (503). By `db.is_mysql()`.
WRITE_FAILED = {False: (500, "internal_error"), True: (503, "database_unavailable")}


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries after milliseconds, not seconds: the backoff's shape is tested on its own."""
    monkeypatch.setattr(outbox, "RETRY_BASE_SECONDS", 0.005)


@pytest.fixture
def build(database: Database, wechat_server: FakeWeChat, tmp_path: Path) -> Iterator[AppBuilder]:
    """An app with the template configured, on a database threads share; `changes` to Config."""
    database.empty()
    config = settings_for(database.url, wechat_server)
    url = config.database_url or ""
    if not url.startswith("mysql://"):
        url = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    base = replace(config, database_url=url, wx_template_verification_result=TEMPLATE)

    def make(**changes: Any) -> Flask:
        app = create_app(replace(base, **changes))
        database.give_tables()
        return app

    yield make
    senders_done()
    db.dispose()


@pytest.fixture
def app(build: AppBuilder) -> Flask:
    return build()


class Review:
    """An applicant with a pending application, and an admin to decide it."""

    def __init__(self, app: Flask, fake: FakeWeChat, accepts: int = 1) -> None:
        self.fake = fake
        client = app.test_client()
        self.applicant = SignedIn(client, fake, "oApplicant")
        status, body = self.applicant.call(
            "POST", "/api/community/verify", json={"name": "王芳", "workId": "W7", "workProof": "p"}
        )
        assert status == 200, body
        self.admin = SignedIn(client, fake, "oReviewer")
        done = app.test_cli_runner().invoke(args=["users", "promote", "oReviewer"])
        assert done.exit_code == 0, done.output
        for _ in range(accepts):  # the mini program's accept, as both sides record it
            self.applicant.call("POST", "/api/user/subscriptions", json={TEMPLATE: "accept"})
            fake.subscribe("oApplicant", TEMPLATE)

    def decide(self, decision: str = "approve", **extra: Any) -> tuple[int, dict[str, Any]]:
        return self.admin.call(
            "POST",
            f"/api/admin/verifications/{self.applicant.id}",
            json={"decision": decision, **extra},
        )

    def ours(self) -> int:
        """The applicant's permissions left, as the service counts them."""
        status, body = self.applicant.call("GET", "/api/user/subscriptions")
        assert status == 200, body
        return int(body["data"]["remaining"][TEMPLATE])

    def wechats(self) -> int:
        return self.fake.subscriptions_left("oApplicant", TEMPLATE)


def the_notification() -> Notification:
    db.close_connection()  # a new read, not a transaction's old snapshot
    (row,) = Notification.select()
    return row


def settled() -> Notification:
    senders_done()
    return the_notification()


# -- the transaction


@pytest.mark.parametrize("mode", ["token", "cloud"])
def test_an_approval_is_sent_once_in_either_mode(
    build: AppBuilder, fake_wechat: FakeWeChat, mode: str
) -> None:
    fake_wechat.cloud_mode = mode == "cloud"
    review = Review(build(wx_openapi_mode=mode), fake_wechat)
    status, body = review.decide()
    assert (status, body["data"]["verification_status"]) == (200, 2)
    row = settled()
    assert (row.status, row.attempts, row.last_errcode, row.kind) == (
        "sent",
        1,
        None,
        "verification_result",
    )
    assert row.sent_at is not None
    (sent,) = fake_wechat.delivered
    assert (sent["touser"], sent["template_id"]) == ("oApplicant", TEMPLATE)
    assert sent["data"]["phrase2"] == {"value": "已通过"}
    assert sent["data"]["thing1"] == {"value": "社区工作者认证"}
    assert fake_wechat.saw_access_token == 0
    assert fake_wechat.calls["/cgi-bin/stable_token"] == (1 if mode == "token" else 0)
    assert (review.ours(), review.wechats()) == (0, 0)


def test_the_row_commits_with_the_review(app: Flask, fake_wechat: FakeWeChat) -> None:
    fake_wechat.stall(SUBSCRIBE_SEND, 5)  # the row is looked at while its send waits
    review = Review(app, fake_wechat)
    assert review.decide("reject", note="工作证明不清晰")[0] == 200
    row = the_notification()  # read on a connection of its own: committed
    user = User.get_by_id(review.applicant.id)
    assert (row.user_id, row.template_id, row.status) == (review.applicant.id, TEMPLATE, "pending")
    assert json.loads(row.data)["thing3"] == {"value": "工作证明不清晰"}
    assert int(user.verification_status) == VerificationStatus.REJECTED
    fake_wechat.release(SUBSCRIBE_SEND)


def fail_on(table: str, event: str) -> None:
    """A trigger that makes every `event` (INSERT, UPDATE) on `table` fail."""
    name = f"fail_{table}_{event.lower()}"
    if db.is_mysql():
        db.database.execute_sql(
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the test'"
        )
    else:
        db.database.execute_sql(
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )


def test_a_notification_that_cannot_be_written_rolls_the_review_back(
    app: Flask, fake_wechat: FakeWeChat
) -> None:
    review = Review(app, fake_wechat)
    fail_on("notifications", "INSERT")
    status, body = review.decide()
    assert (status, body["error"]) == WRITE_FAILED[db.is_mysql()], body
    assert int(User.get_by_id(review.applicant.id).verification_status) == (
        VerificationStatus.PENDING
    )
    assert Notification.select().count() == 0
    assert fake_wechat.calls[SUBSCRIBE_SEND] == 0


def test_a_review_that_cannot_be_written_leaves_no_notification(
    app: Flask, fake_wechat: FakeWeChat
) -> None:
    review = Review(app, fake_wechat)
    fail_on("users", "UPDATE")
    status, body = review.decide()
    assert (status, body["error"]) == WRITE_FAILED[db.is_mysql()], body
    assert Notification.select().count() == 0
    assert fake_wechat.calls[SUBSCRIBE_SEND] == 0


def test_a_refused_decision_leaves_no_second_notification(
    app: Flask, fake_wechat: FakeWeChat
) -> None:
    review = Review(app, fake_wechat, accepts=2)
    assert review.decide()[0] == 200
    settled()
    status, body = review.decide("reject")  # decided already
    assert (status, body["error"]) == (409, "verification_not_pending")
    assert settled().status == "sent"  # still the one row
    assert len(fake_wechat.delivered) == 1


def test_without_a_template_id_a_review_writes_no_notification(
    build: AppBuilder, fake_wechat: FakeWeChat
) -> None:
    review = Review(build(wx_template_verification_result=""), fake_wechat, accepts=0)
    assert review.decide()[0] == 200
    senders_done()
    assert Notification.select().count() == 0
    assert fake_wechat.calls[SUBSCRIBE_SEND] == 0


def test_the_review_answers_while_wechat_stalls(build: AppBuilder, fake_wechat: FakeWeChat) -> None:
    """The fake holds the send for 5 s; the review's answer comes first, the message after."""
    review = Review(build(wx_read_timeout=10.0), fake_wechat)
    fake_wechat.stall(SUBSCRIBE_SEND, 5)
    status, _ = review.decide()
    assert status == 200
    assert fake_wechat.delivered == []  # answered before WeChat did anything
    eventually(lambda: fake_wechat.stalling[SUBSCRIBE_SEND] == 1)  # the send is under way
    assert the_notification().status == "pending"
    fake_wechat.release(SUBSCRIBE_SEND)
    assert settled().status == "sent"
    assert len(fake_wechat.delivered) == 1


# -- delivery rules


def test_43101_is_refused_and_never_retried(app: Flask, fake_wechat: FakeWeChat) -> None:
    review = Review(app, fake_wechat, accepts=2)
    fake_wechat.subscribe("oApplicant", TEMPLATE, -2)  # cancelled in WeChat's settings since
    assert review.decide()[0] == 200
    row = settled()
    assert (row.status, row.attempts, row.last_errcode) == ("refused", 1, 43101)
    assert fake_wechat.calls[SUBSCRIBE_SEND] == 1
    assert review.ours() == 0  # WeChat holds none: neither does the service now
    counts = app.test_cli_runner().invoke(args=["outbox", "drain"])
    assert "sent 0" in counts.output
    assert fake_wechat.calls[SUBSCRIBE_SEND] == 1


def test_no_permission_here_is_refused_without_asking_wechat(
    app: Flask, fake_wechat: FakeWeChat
) -> None:
    review = Review(app, fake_wechat, accepts=0)
    assert review.decide()[0] == 200
    row = settled()
    assert (row.status, row.last_errcode, row.last_error) == ("refused", None, "no_permission")
    assert fake_wechat.calls[SUBSCRIBE_SEND] == 0


def test_busy_is_retried_then_sent_spending_one_permission(
    app: Flask, fake_wechat: FakeWeChat
) -> None:
    review = Review(app, fake_wechat, accepts=2)
    fake_wechat.fail_subscribe(-1, -1)
    assert review.decide()[0] == 200
    row = settled()
    assert (row.status, row.attempts, row.last_errcode) == ("sent", 3, -1)
    assert fake_wechat.calls[SUBSCRIBE_SEND] == 3
    assert len(fake_wechat.delivered) == 1
    assert (review.ours(), review.wechats()) == (1, 1)  # one spent, on each side


@pytest.mark.parametrize("errcode", [-1, 45009, 45011])
def test_what_proves_nothing_was_delivered_is_retried_up_to_a_limit(
    app: Flask, fake_wechat: FakeWeChat, errcode: int
) -> None:
    review = Review(app, fake_wechat)
    fake_wechat.fail_subscribe(*[errcode] * outbox.MAX_ATTEMPTS)
    assert review.decide()[0] == 200
    row = settled()
    assert (row.status, row.attempts, row.last_errcode) == ("failed", outbox.MAX_ATTEMPTS, errcode)
    assert row.last_error == "gave_up"
    assert fake_wechat.calls[SUBSCRIBE_SEND] == outbox.MAX_ATTEMPTS
    assert review.ours() == 1  # given back: it was never spent


@pytest.mark.parametrize("errcode", [40003, 40037, 41030, 47003])
def test_any_other_errcode_fails_at_once_and_is_kept(
    app: Flask, fake_wechat: FakeWeChat, errcode: int
) -> None:
    review = Review(app, fake_wechat)
    fake_wechat.fail_subscribe(errcode)
    assert review.decide()[0] == 200
    row = settled()
    assert (row.status, row.attempts, row.last_errcode) == ("failed", 1, errcode)
    assert fake_wechat.calls[SUBSCRIBE_SEND] == 1
    assert review.ours() == 1


def test_a_stale_token_is_replaced_and_the_send_retried(
    app: Flask, fake_wechat: FakeWeChat
) -> None:
    review = Review(app, fake_wechat)
    app.extensions["wechat"].access_token()  # cached...
    fake_wechat.revoke_tokens()  # ...and no longer valid
    assert review.decide()[0] == 200
    row = settled()
    assert (row.status, row.attempts, row.last_errcode) == ("sent", 2, 40001)
    assert fake_wechat.calls["/cgi-bin/stable_token"] == 2


def test_no_token_is_retried_then_given_up(app: Flask, fake_wechat: FakeWeChat) -> None:
    review = Review(app, fake_wechat)
    # stable_token is asked twice per attempt (service/wechat.py retries it once).
    fake_wechat.interpose(
        "/cgi-bin/stable_token", "busy", status=503, times=2 * outbox.MAX_ATTEMPTS
    )
    assert review.decide()[0] == 200
    row = settled()
    assert (row.status, row.attempts, row.last_errcode) == ("failed", outbox.MAX_ATTEMPTS, None)
    assert fake_wechat.calls[SUBSCRIBE_SEND] == 0
    assert review.ours() == 1


def test_an_unreachable_wechat_is_retried(build: AppBuilder, fake_wechat: FakeWeChat) -> None:
    """Nothing listens: the request never left, so trying again cannot send it twice."""
    app = build(wx_openapi_mode="cloud")
    review = Review(app, fake_wechat)
    app.extensions["wechat"].base = "http://127.0.0.1:9"  # WeChat goes away after sign-in
    assert review.decide()[0] == 200
    row = settled()
    assert (row.status, row.attempts, row.last_error) == ("failed", outbox.MAX_ATTEMPTS, "gave_up")


def test_no_answer_after_sending_is_never_sent_again(
    build: AppBuilder, fake_wechat: FakeWeChat
) -> None:
    """A read timeout: the message may have arrived (here it did), so it is not retried."""
    review = Review(build(wx_read_timeout=0.2), fake_wechat)
    fake_wechat.stall(SUBSCRIBE_SEND, 1)
    assert review.decide()[0] == 200
    row = settled()
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "outcome_unknown")
    eventually(lambda: fake_wechat.delivered)  # WeChat went on and delivered it
    assert fake_wechat.calls[SUBSCRIBE_SEND] == 1
    assert review.ours() == 0  # spent: it may have been used


@pytest.mark.parametrize(("status", "body"), [(502, "<html>bad gateway</html>"), (200, "[]")])
def test_an_answer_that_is_not_wechats_is_not_retried(
    app: Flask, fake_wechat: FakeWeChat, status: int, body: str
) -> None:
    review = Review(app, fake_wechat)
    fake_wechat.interpose(SUBSCRIBE_SEND, body, status=status)
    assert review.decide()[0] == 200
    row = settled()
    assert (row.status, row.attempts, row.last_errcode) == ("failed", 1, None)


def test_each_retry_waits_twice_as_long(
    app: Flask, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "RETRY_BASE_SECONDS", 60.0)
    (row_id,) = pending_rows(app, 1)
    fake_wechat.fail_subscribe(*[-1] * (outbox.MAX_ATTEMPTS - 1))
    minutes = []
    for _ in range(outbox.MAX_ATTEMPTS - 1):
        before = utcnow()
        assert outbox.deliver(row_id, app.extensions["wechat"], app.config["SERVICE"]) == "pending"
        row = Notification.get_by_id(row_id)
        minutes.append(round((row.next_attempt_at - before).total_seconds() / 60))
        # The wait is over: due now, without waiting for it.
        Notification.update(next_attempt_at=utcnow()).where(Notification.id == row_id).execute()
    assert minutes == [1, 2, 4, 8]
    fake_wechat.subscribe("oDrain0000", TEMPLATE)
    assert outbox.deliver(row_id, app.extensions["wechat"], app.config["SERVICE"]) == "sent"


def test_a_long_wait_for_a_retry_is_left_to_the_drain(
    app: Flask, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "RETRY_BASE_SECONDS", 2 * outbox.INLINE_RETRY_LIMIT)
    review = Review(app, fake_wechat)
    fake_wechat.fail_subscribe(-1)
    assert review.decide()[0] == 200
    row = settled()  # the sender stopped rather than sleep that long
    assert (row.status, row.attempts, row.claimed_by) == ("pending", 1, None)
    assert row.next_attempt_at > utcnow() + timedelta(seconds=outbox.INLINE_RETRY_LIMIT)
    assert outbox.drain(app.extensions["wechat"], app.config["SERVICE"])["sent"] == 0  # not due


def test_a_claim_too_short_to_send_in_is_not_used(
    app: Flask, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A send starts only while the claim outlasts it: else another sender could take the
    row over with the request still under way."""
    monkeypatch.setattr(outbox, "lease_seconds", lambda config: 0.5)
    review = Review(app, fake_wechat)
    assert review.decide()[0] == 200
    row = settled()
    assert (row.status, row.in_flight, row.attempts) == ("pending", False, 1)
    assert fake_wechat.calls[SUBSCRIBE_SEND] == 0
    monkeypatch.undo()
    eventually(lambda: the_notification().claimed_until < utcnow())
    assert outbox.drain(app.extensions["wechat"], app.config["SERVICE"])["sent"] == 1
    assert len(fake_wechat.delivered) == 1


def test_a_sender_whose_claim_was_taken_over_records_nothing(
    app: Flask, fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    review = Review(app, fake_wechat)
    fake_wechat.stall(SUBSCRIBE_SEND, 5)
    assert review.decide()[0] == 200
    eventually(lambda: fake_wechat.stalling[SUBSCRIBE_SEND] == 1)
    Notification.update(claimed_by="its-new-owner").execute()
    fake_wechat.release(SUBSCRIBE_SEND)
    row = settled()
    assert (row.status, row.claimed_by, row.in_flight) == ("pending", "its-new-owner", True)
    assert any("claim taken over" in r.getMessage() for r in caplog.records)


def test_a_sender_that_breaks_says_so_and_leaves_the_row_to_a_drain(
    app: Flask,
    fake_wechat: FakeWeChat,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    review = Review(app, fake_wechat)

    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(outbox, "deliver", broken)
    assert review.decide()[0] == 200
    assert settled().status == "pending"
    assert any("outbox sender stopped" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    assert outbox.drain(app.extensions["wechat"], app.config["SERVICE"])["sent"] == 1


# -- draining


def pending_rows(app: Flask, count: int, *, accepts: int = 1) -> list[int]:
    """`count` notifications that no sender took up: as a restart leaves them."""
    ids = []
    with app.app_context():
        for n in range(count):
            user = User.create(openid=f"oDrain{n:04d}")
            for _ in range(accepts):
                subscriptions.grant(user.id, TEMPLATE)
            row = outbox.notify(VERIFICATION_RESULT, user.id, {"thing1": {"value": f"第{n}条"}})
            assert row is not None
            ids.append(row)
    return ids


def test_drain_sends_what_is_pending_once(app: Flask, fake_wechat: FakeWeChat) -> None:
    pending_rows(app, 3)
    for n in range(3):
        fake_wechat.subscribe(f"oDrain{n:04d}", TEMPLATE)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["outbox", "drain"])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == (
        "pending 0, sent 3, refused 0, failed 0, skipped 0, abandoned 0"
    )
    again = runner.invoke(args=["outbox", "drain"])
    assert "sent 0" in again.output
    assert sorted(m["touser"] for m in fake_wechat.delivered) == [
        "oDrain0000",
        "oDrain0001",
        "oDrain0002",
    ]


def test_drain_takes_over_a_claim_whose_sender_died_before_sending(
    app: Flask, fake_wechat: FakeWeChat
) -> None:
    (row_id,) = pending_rows(app, 1)
    fake_wechat.subscribe("oDrain0000", TEMPLATE)
    assert outbox.claim(row_id, "a-dead-process", utcnow(), lease=-1)  # and it has expired
    Notification.update(permission_taken=True).where(Notification.id == row_id).execute()
    subscriptions.take(Notification.get_by_id(row_id).user_id, TEMPLATE)
    result = app.test_cli_runner().invoke(args=["outbox", "drain"])
    assert "sent 1" in result.output, result.output
    row = the_notification()
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(fake_wechat.delivered) == 1
    assert SubscribeCount.of(row.user_id) == 0  # spent once, by the dead sender's claim


class SubscribeCount:
    @staticmethod
    def of(user_id: int) -> int:
        return subscriptions.remaining(user_id, [TEMPLATE])[TEMPLATE]


def test_a_claim_that_expired_in_flight_is_failed_not_sent_again(
    app: Flask, fake_wechat: FakeWeChat
) -> None:
    (row_id,) = pending_rows(app, 1)
    fake_wechat.subscribe("oDrain0000", TEMPLATE)
    assert outbox.claim(row_id, "a-dead-process", utcnow(), lease=-1)
    Notification.update(in_flight=True).where(Notification.id == row_id).execute()
    result = app.test_cli_runner().invoke(args=["outbox", "drain"])
    assert "abandoned 1" in result.output, result.output
    row = the_notification()
    assert (row.status, row.last_error) == ("failed", "outcome_unknown")
    assert fake_wechat.calls[SUBSCRIBE_SEND] == 0


def test_a_live_claim_is_left_to_its_sender(app: Flask, fake_wechat: FakeWeChat) -> None:
    (row_id,) = pending_rows(app, 1)
    assert outbox.claim(row_id, "a-live-process", utcnow(), 60)
    assert not outbox.claim(row_id, "another-process", utcnow(), 60)
    result = app.test_cli_runner().invoke(args=["outbox", "drain"])
    assert "sent 0" in result.output
    assert fake_wechat.calls[SUBSCRIBE_SEND] == 0


def test_a_retry_not_due_waits_for_its_time(app: Flask, fake_wechat: FakeWeChat) -> None:
    (row_id,) = pending_rows(app, 1)
    later = utcnow() + timedelta(minutes=5)
    Notification.update(next_attempt_at=later).where(Notification.id == row_id).execute()
    assert outbox.drain(app.extensions["wechat"], app.config["SERVICE"])["sent"] == 0
    assert fake_wechat.calls[SUBSCRIBE_SEND] == 0


# -- over HTTP: the drain route and the admins' list


def test_the_drain_route_takes_a_scheduled_trigger_or_an_admin(
    app: Flask, fake_wechat: FakeWeChat
) -> None:
    review = Review(app, fake_wechat, accepts=0)
    client = app.test_client()
    anonymous = client.post("/api/outbox/drain")
    assert (anonymous.status_code, anonymous.json["error"]) == (401, "token_missing")
    status, body = review.applicant.call("POST", "/api/outbox/drain")
    assert (status, body["error"]) == (403, "admin_required")
    # A token that is not an admin's is refused even with X-WX-SOURCE.
    forged = client.post(
        "/api/outbox/drain", headers={**review.applicant.headers, "X-WX-SOURCE": "x"}
    )
    assert forged.status_code == 403
    pending_rows(app, 2)
    for n in range(2):
        fake_wechat.subscribe(f"oDrain{n:04d}", TEMPLATE)
    triggered = client.post("/api/outbox/drain", headers={"X-WX-SOURCE": "scheduled"})
    assert triggered.status_code == 200, triggered.json
    assert triggered.json["data"]["sent"] == 2
    status, body = review.admin.call("POST", "/api/outbox/drain")
    assert (status, body["data"]["sent"]) == (200, 0)


def test_admins_see_each_notification_and_how_it_went(app: Flask, fake_wechat: FakeWeChat) -> None:
    review = Review(app, fake_wechat)
    fake_wechat.fail_subscribe(-1)
    review.decide()
    settled()
    pending_rows(app, 2, accepts=0)
    outbox.drain(app.extensions["wechat"], app.config["SERVICE"])
    status, body = review.admin.call("GET", "/api/admin/notifications?size=2")
    assert status == 200, body
    data = body["data"]
    assert (data["total"], data["page"], data["size"]) == (3, 1, 2)
    newest = data["items"][0]
    assert set(newest) >= {"status", "attempts", "last_errcode", "user_id", "template_id"}
    assert (newest["status"], newest["last_errcode"], newest["template_id"]) == (
        "refused",
        None,
        TEMPLATE,
    )
    status, body = review.admin.call("GET", "/api/admin/notifications?status=sent")
    (sent,) = body["data"]["items"]
    assert (sent["user_id"], sent["attempts"], sent["last_errcode"]) == (
        review.applicant.id,
        2,
        -1,
    )
    status, body = review.admin.call("GET", "/api/admin/notifications?status=lost")
    assert (status, body["error"]) == (400, "invalid_parameter")
    status, body = review.applicant.call("GET", "/api/admin/notifications")
    assert (status, body["error"]) == (403, "admin_required")

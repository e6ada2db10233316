"""The outbox: subscribe messages written with the change they tell of, sent after the commit.

A notification is a row in `notifications`, inserted in the transaction of the
change that causes it, so the change and its message commit or roll back
together. After the commit a sender delivers it on a thread of its own (a
greenlet under gunicorn's gevent worker): the request that caused it never
waits on WeChat. Whatever is still due after a restart is delivered by
`flask outbox drain`, or by `POST /api/outbox/drain` from a scheduled trigger.

Sending a row starts with claiming it, in one conditional UPDATE that only one
process can win, so two senders never send the same row. A claim lasts
`lease_seconds`: a process that dies holding one leaves the row to be taken
over once it expires. Just before the request goes out the row is marked
`in_flight`; a claim that expires while in flight may have been delivered, and
is not sent again but marked failed (`outcome_unknown`): one message twice is
the mistake this module exists to prevent.

What WeChat answers decides the rest:
- 0: sent. The user's permission, spent when the row was first taken up, stays spent.
- 43101, or no permission left here: refused, never retried.
- -1, 45009 and 45011 (limits), a stale token in token mode, no token, or no
  connection at all: nothing was delivered, so it is retried with backoff,
  up to MAX_ATTEMPTS, then failed. The permission is given back.
- any other errcode: failed at once, errcode kept, permission given back.
- no answer after the request left (a read timeout, a 5xx): failed, since it
  may have arrived; the permission stays spent.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, request

from service import config as settings
from service import db, subscriptions, templates, wechat
from service.auth import SOURCE_HEADER, authenticate
from service.config import Config
from service.envelope import success
from service.errors import ADMIN_REQUIRED, ApiError
from service.models import Notification, Role, User, utcnow
from service.models import NotificationStatus as S
from service.profile import iso_utc

log = logging.getLogger(__name__)

SEND_PATH = "/cgi-bin/message/subscribe/send"
NO_PERMISSION = 43101
#: Answers that prove nothing was delivered and may pass: busy, and the call limits.
TRANSIENT = frozenset({wechat.BUSY, 45009, 45011})
MAX_ATTEMPTS = 5
#: Seconds before the first retry, doubled for each one after (2, 4, 8, 16).
RETRY_BASE_SECONDS = 2.0
#: The sender that made an attempt waits this long at most for the next one; a longer
#: wait is left to `drain`.
INLINE_RETRY_LIMIT = 60.0
#: Rows one drain takes up: from the command line, and over HTTP (where a caller waits).
DRAIN_LIMIT = 500
HTTP_DRAIN_LIMIT = 100


def lease_seconds(config: Config) -> float:
    """How long a claim holds: enough to fetch a token (two tries) and send, with room over."""
    return 4 * (config.wx_connect_timeout + config.wx_read_timeout) + 2


def notify(template: templates.Template, user_id: int, data: dict[str, Any]) -> int | None:
    """Write a notification, in the caller's transaction; None when `template` has no id here."""
    template_id = template.template_id(settings.current())
    if not template_id:
        return None
    row = Notification.create(
        user=user_id,
        kind=template.name,
        template_id=template_id,
        page=template.page,
        data=json.dumps(data, ensure_ascii=False),
    )
    return int(row.id)


# -- claims


def _due(now: datetime) -> Any:
    return (
        (Notification.status == S.PENDING)
        & (Notification.next_attempt_at <= now)
        & (Notification.in_flight == False)  # noqa: E712 - peewee builds SQL from ==
        & (Notification.claimed_until.is_null() | (Notification.claimed_until < now))
    )


def claim(row_id: int, token: str, now: datetime, lease: float) -> bool:
    """Take the row for one attempt, if it is due and nobody holds it: one statement."""
    taken = (
        Notification.update(
            claimed_by=token,
            claimed_until=now + timedelta(seconds=lease),
            attempts=Notification.attempts + 1,
            updated_at=now,
        )
        .where(Notification.id == row_id, _due(now))
        .execute()
    )
    return bool(taken)


def abandon_stuck(now: datetime) -> int:
    """Rows whose sender died with the request under way: failed, never sent again.

    The claim's token stays on the row, so a sender that was only slow, not
    dead, still records what WeChat answered.
    """
    return int(
        Notification.update(status=S.FAILED, last_error="outcome_unknown", updated_at=now)
        .where(
            Notification.status == S.PENDING,
            Notification.in_flight == True,  # noqa: E712
            Notification.claimed_until < now,
        )
        .execute()
    )


def _mine(row: Notification, token: str) -> Any:
    return (Notification.id == row.id) & (Notification.claimed_by == token)


def _settle(
    row: Notification,
    token: str,
    status: str,
    *,
    errcode: int | None = None,
    error: str | None = None,
    permission: str | None = None,
    delay: float = 0.0,
) -> str:
    """Record an attempt's end and release the claim; `permission`: give_back or forget."""
    now = utcnow()
    changes: dict[Any, Any] = {
        Notification.status: status,
        Notification.in_flight: False,
        Notification.claimed_until: None,
        Notification.last_error: error,
        Notification.updated_at: now,
    }
    if errcode is not None:
        changes[Notification.last_errcode] = errcode
    if status == S.SENT:
        changes[Notification.sent_at] = now
    if status == S.PENDING:
        changes[Notification.next_attempt_at] = now + timedelta(seconds=delay)
        changes[Notification.claimed_by] = None
    with db.database.atomic():
        if not Notification.update(changes).where(_mine(row, token)).execute():
            log.warning("notification %s: claim taken over, %s not recorded", row.id, status)
            return status
        if permission == "give_back" and row.permission_taken:
            subscriptions.give_back(row.user_id, row.template_id)
            Notification.update(permission_taken=False).where(Notification.id == row.id).execute()
        elif permission == "forget":
            subscriptions.forget(row.user_id, row.template_id)
    log.info(
        "notification %s (%s): %s after %d attempt(s)%s",
        row.id,
        row.kind,
        status,
        row.attempts,
        f", errcode {errcode}" if errcode is not None else (f", {error}" if error else ""),
    )
    return status


def _retry(row: Notification, token: str, errcode: int | None, error: str) -> str:
    """Nothing was delivered: try again later, or give up after MAX_ATTEMPTS."""
    if row.attempts >= MAX_ATTEMPTS:
        return _settle(
            row, token, S.FAILED, errcode=errcode, error="gave_up", permission="give_back"
        )
    delay = RETRY_BASE_SECONDS * 2 ** (row.attempts - 1)
    return _settle(row, token, S.PENDING, errcode=errcode, error=error, delay=delay)


def _take_permission(row: Notification, token: str) -> bool:
    """Spend the user's permission once per row, however many attempts it takes."""
    if row.permission_taken:
        return True
    with db.database.atomic():
        if not subscriptions.take(row.user_id, row.template_id):
            return False
        Notification.update(permission_taken=True).where(_mine(row, token)).execute()
    row.permission_taken = True
    return True


def _start(row: Notification, token: str, config: Config) -> bool:
    """Mark the request as under way, if the claim outlasts it (a connect and a read)."""
    budget = timedelta(seconds=config.wx_connect_timeout + config.wx_read_timeout)
    now = utcnow()
    started = (
        Notification.update(in_flight=True, updated_at=now)
        .where(_mine(row, token), Notification.claimed_until > now + budget)
        .execute()
    )
    return bool(started)


def deliver(row_id: int, client: wechat.WeChatClient, config: Config) -> str | None:
    """One attempt at one row: its status afterwards, or None when it was not ours to send."""
    token = secrets.token_hex(16)
    if not claim(row_id, token, utcnow(), lease_seconds(config)):
        return None
    row = Notification.get_by_id(row_id)
    if not _take_permission(row, token):
        return _settle(row, token, S.REFUSED, error="no_permission")
    openid = User.select(User.openid).where(User.id == row.user_id).scalar()
    try:
        access = client.send_token()
    except ApiError:
        return _retry(row, token, None, "token_unavailable")
    if not _start(row, token, config):
        log.warning("notification %s: claim too close to expiry, left to a drain", row.id)
        return None
    payload: dict[str, Any] = {
        "touser": openid,
        "template_id": row.template_id,
        "data": json.loads(row.data),
    }
    if row.page:
        payload["page"] = row.page
    attempt = client.post_once(SEND_PATH, payload, access)
    errcode = attempt.errcode
    if errcode == 0:
        return _settle(row, token, S.SENT)
    if errcode == NO_PERMISSION:
        return _settle(row, token, S.REFUSED, errcode=errcode, error="wechat", permission="forget")
    stale_token = access is not None and errcode in wechat.ACCESS_TOKEN_INVALID
    if errcode in TRANSIENT or stale_token:
        return _retry(row, token, errcode, "wechat")
    if errcode is not None:
        return _settle(
            row, token, S.FAILED, errcode=errcode, error="wechat", permission="give_back"
        )
    if not attempt.maybe_delivered:
        return _retry(row, token, None, attempt.reason)
    return _settle(row, token, S.FAILED, error="outcome_unknown")


# -- senders


def _wait_for(row_id: int) -> float | None:
    """Seconds until the row's next attempt, when it is pending and nobody holds it."""
    row = Notification.get_or_none(Notification.id == row_id)
    if row is None or row.status != S.PENDING or row.claimed_by is not None:
        return None
    return max((row.next_attempt_at - utcnow()).total_seconds(), 0.0)


def _send(row_ids: list[int], client: wechat.WeChatClient, config: Config) -> None:
    try:
        for row_id in row_ids:
            while deliver(row_id, client, config) == S.PENDING:
                wait = _wait_for(row_id)
                if wait is None or wait > INLINE_RETRY_LIMIT:
                    break
                db.close_connection()  # not held while asleep
                time.sleep(wait)
    except Exception as error:  # logged, never raised: nobody is waiting; a drain retries
        log.error("outbox sender stopped: %s", type(error).__name__, exc_info=error)
    finally:
        db.close_connection()


def send_soon(row_ids: list[int]) -> None:
    """Deliver `row_ids` on a thread of its own, after the caller's commit.

    Under gunicorn's gevent worker the thread is a greenlet: it runs when the
    request's greenlet waits on its own I/O, answering the client first.
    """
    if not row_ids:
        return
    client, config = wechat.client(), settings.current()
    threading.Thread(
        target=_send, args=(row_ids, client, config), name="outbox-send", daemon=True
    ).start()


def drain(client: wechat.WeChatClient, config: Config, limit: int = DRAIN_LIMIT) -> dict[str, int]:
    """One attempt at each due row, oldest first, up to `limit`: what became of them.

    Rows other senders hold are `skipped`; `pending` ones had an attempt that
    proved nothing delivered and will be tried again after their backoff.
    """
    now = utcnow()
    counts: Counter[str] = Counter(dict.fromkeys((*S.ALL, "skipped"), 0))
    counts["abandoned"] = abandon_stuck(now)
    due = (
        Notification.select(Notification.id).where(_due(now)).order_by(Notification.id).limit(limit)
    )
    for row_id in [row.id for row in due]:
        counts[deliver(row_id, client, config) or "skipped"] += 1
    return dict(counts)


# -- reading


def describe(row: Notification) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "user_id": row.user_id,
        "template_id": row.template_id,
        "status": row.status,
        "attempts": row.attempts,
        "last_errcode": row.last_errcode,
        "last_error": row.last_error,
        "created_at": iso_utc(row.created_at),
        "sent_at": iso_utc(row.sent_at),
    }


bp = Blueprint("outbox", __name__, url_prefix="/api/outbox")


@bp.post("/drain")
def drain_now() -> Response:
    """For a scheduled trigger (X-WX-SOURCE) or an admin: deliver what is due.

    Anyone who can forge X-WX-SOURCE on a public domain can make the service
    deliver, sooner, what it would deliver anyway: nothing else.
    """
    through_wechat = bool(request.headers.get(SOURCE_HEADER, "").strip())
    needs_admin = "Authorization" in request.headers or not through_wechat
    if needs_admin and int(authenticate().role) != Role.ADMIN:
        raise ApiError(ADMIN_REQUIRED)
    return success(drain(wechat.client(), settings.current(), HTTP_DRAIN_LIMIT))

"""The tables, as peewee models bound to the database proxy."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum

import peewee as pw

from service.db import database


def utcnow() -> datetime:
    """Naive UTC: DATETIME columns carry no zone, and Cloud Run runs in UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


#: The collation of every column compared for identity (openids, unionids, phone numbers,
#: session keys, token hashes, rate-limit buckets, push dedupe keys): byte for byte, as
#: SQLite compares all text; MySQL's usual defaults ignore letter case. Human text keeps
#: the database's collation. The name is MySQL's: tables come from the migrations, which
#: set it (006_exact_identifiers), and SQLite needs none. `flask db migrate` does not copy
#: a collation into the migration it writes, so a new identifier column needs it added
#: there by hand; tests/integration/test_schema.py fails until models and tables agree.
EXACT = "utf8mb4_bin"


class BaseModel(pw.Model):
    id = pw.AutoField()
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        database = database
        # Every model names its table. peewee then names indexes after the model
        # (`user_openid`), as the models that peewee-migrate rebuilds from the
        # migration files do, so `flask db migrate` sees the same indexes on both sides.


class Counter(BaseModel):
    """The template's counter: a single row, id 1, as the original kept it."""

    count = pw.IntegerField(default=0)

    class Meta:
        table_name = "Counters"


class Role(IntEnum):
    SOLO = 1  # lives alone
    SUPERVISOR = 2  # guardian
    COMMUNITY = 3  # community worker, after an approved verification
    ADMIN = 9

    @property
    def label(self) -> str:
        return self.name.lower()


class Status(IntEnum):
    NORMAL = 1
    DISABLED = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class VerificationStatus(IntEnum):
    NOT_APPLIED = 0
    PENDING = 1
    APPROVED = 2
    REJECTED = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class User(BaseModel):
    openid = pw.CharField(max_length=64, unique=True, collation=EXACT)
    unionid = pw.CharField(max_length=64, null=True, collation=EXACT)
    nickname = pw.CharField(max_length=64, null=True)
    avatar_url = pw.CharField(max_length=512, null=True)
    phone_number = pw.CharField(max_length=32, null=True, unique=True, collation=EXACT)
    role = pw.IntegerField(default=int(Role.SOLO))
    status = pw.IntegerField(default=int(Status.NORMAL))
    # Community-worker verification: an application, then an admin's review.
    verification_status = pw.IntegerField(default=int(VerificationStatus.NOT_APPLIED))
    real_name = pw.CharField(max_length=64, null=True)
    work_id = pw.CharField(max_length=64, null=True)
    verification_materials = pw.TextField(null=True)
    verification_applied_at = pw.DateTimeField(null=True)
    reviewed_by = pw.IntegerField(null=True)  # the admin's user id; kept if that admin goes
    reviewed_at = pw.DateTimeField(null=True)
    review_note = pw.CharField(max_length=255, null=True)

    class Meta:
        table_name = "users"


class AuthSession(BaseModel):
    """One login: the family its refresh tokens belong to. Revoking it ends them all."""

    user = pw.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    # The `sid` claim of its access tokens.
    key = pw.CharField(max_length=32, unique=True, collation=EXACT)
    revoked_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "auth_sessions"


class RefreshToken(BaseModel):
    """A refresh token, stored only as its SHA-256: a database leak yields no usable token."""

    session = pw.ForeignKeyField(AuthSession, backref="refresh_tokens", on_delete="CASCADE")
    token_hash = pw.CharField(max_length=64, unique=True, collation=EXACT)
    expires_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)  # set when rotated; presenting it again is theft

    class Meta:
        table_name = "refresh_tokens"


class RateLimit(pw.Model):
    """Attempts per key and time window, shared by every instance and worker."""

    bucket = pw.CharField(max_length=96, primary_key=True, collation=EXACT)
    hits = pw.IntegerField()
    expires_at = pw.DateTimeField(index=True)

    class Meta:
        database = database
        table_name = "rate_limits"


class LongTextField(pw.TextField):
    """TEXT on SQLite; LONGTEXT on MySQL, whose TEXT stops at 65,535 bytes (less than a
    MAX_BODY_BYTES body of 4-byte characters once stored)."""

    field_type = "LONGTEXT"


class PushMessage(BaseModel):
    """A message or event Cloud Run pushed (消息推送), stored once however often it is sent.

    `dedupe_key` is the MsgId where there is one; events have none, and are
    known by sender, time and event, as WeChat's documentation advises.
    """

    dedupe_key = pw.CharField(max_length=128, unique=True, collation=EXACT)
    msg_id = pw.CharField(max_length=64, null=True, collation=EXACT)
    to_user = pw.CharField(max_length=64, null=True, collation=EXACT)
    from_user = pw.CharField(max_length=64, null=True, collation=EXACT)
    create_time = pw.BigIntegerField(null=True)
    msg_type = pw.CharField(max_length=32, null=True)
    event = pw.CharField(max_length=64, null=True)
    content = pw.TextField(null=True)
    payload = LongTextField()  # the whole body as received: nothing that parsed is lost

    class Meta:
        table_name = "push_messages"


class SubscribePermission(BaseModel):
    """Sends of one template to one user that the user allowed (订阅消息): one per `accept`.

    WeChat keeps the real count and answers 43101 when none is left; this one
    lets the service refuse without asking, and is corrected by that answer.
    """

    user = pw.ForeignKeyField(User, backref="subscriptions", on_delete="CASCADE")
    template_id = pw.CharField(max_length=64, collation=EXACT)
    remaining = pw.IntegerField(default=0)

    class Meta:
        table_name = "subscribe_permissions"
        indexes = ((("user", "template_id"), True),)


class NotificationStatus:
    """Where a notification stands: the four values admins see. A row being sent is
    `pending` with a claim (claimed_by, claimed_until) on it."""

    PENDING = "pending"
    SENT = "sent"
    REFUSED = "refused"
    FAILED = "failed"
    ALL = (PENDING, SENT, REFUSED, FAILED)


class Notification(BaseModel):
    """A subscribe message to send: the outbox.

    Written in the transaction of the change it tells of, so that the change
    and its message commit or roll back together; delivered after the commit
    (service/outbox.py). `data` is WeChat's `data` object as JSON, fitted to
    the template's rules when written.
    """

    user = pw.ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    user_id: int  # the key's value, without loading the user (peewee's accessor)
    kind = pw.CharField(max_length=32)
    template_id = pw.CharField(max_length=64, collation=EXACT)
    page = pw.CharField(max_length=255, null=True)
    data = pw.TextField()
    status = pw.CharField(max_length=8, default=NotificationStatus.PENDING)
    attempts = pw.IntegerField(default=0)
    last_errcode = pw.IntegerField(null=True)  # WeChat's, when it answered with an error
    last_error = pw.CharField(max_length=32, null=True)  # why, in a word, when not sent
    next_attempt_at = pw.DateTimeField(default=utcnow)
    claimed_by = pw.CharField(max_length=32, null=True, collation=EXACT)
    claimed_until = pw.DateTimeField(null=True)
    # The request to WeChat may be under way: whoever takes over an expired claim
    # cannot know whether it arrived, and does not send it again.
    in_flight = pw.BooleanField(default=False)
    permission_taken = pw.BooleanField(default=False)  # one of the user's permissions is spent
    sent_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "notifications"
        indexes = ((("status", "next_attempt_at"), False),)


MODELS: list[type[pw.Model]] = [
    Counter,
    User,
    AuthSession,
    RefreshToken,
    RateLimit,
    PushMessage,
    SubscribePermission,
    Notification,
]

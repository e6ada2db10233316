"""Login sessions and their refresh tokens: issue, rotate, revoke.

Each login starts a session; its refresh tokens form one family. A refresh
token works once: rotating it marks it used and issues the next. Presenting a
used token again means two parties hold it, so the whole session is revoked,
its access tokens included (they carry the session's key).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from service.config import Config
from service.errors import (
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    TOKEN_SECRET_MISSING,
    USER_DISABLED,
    ApiError,
)
from service.logs import mask
from service.models import AuthSession, RefreshToken, Status, User, utcnow
from service.tokens import (
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
    new_session_key,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grant:
    access_token: str
    refresh_token: str
    expires_in: int


def signing_secret(config: Config) -> str:
    """TOKEN_SECRET, or 503 token_secret_missing: checked before any work a login would waste.

    Production refuses to start without one (Config.check); development
    starts, so the counter works, but nothing that signs or checks a token
    runs until it is set. No per-process secret is made up instead: with
    several workers, each would reject the others' tokens.
    """
    if not config.token_secret:
        raise ApiError(TOKEN_SECRET_MISSING)
    return config.token_secret


def _grant(config: Config, user: User, session: AuthSession) -> Grant:
    raw = new_refresh_token()
    RefreshToken.create(
        session=session,
        token_hash=hash_refresh_token(raw),
        expires_at=utcnow() + timedelta(seconds=config.refresh_token_ttl),
    )
    access = issue_access_token(
        signing_secret(config),
        user_id=user.id,
        openid=user.openid,
        role=int(user.role),
        session_key=session.key,
        ttl=config.access_token_ttl,
    )
    return Grant(access, raw, config.access_token_ttl)


def start(config: Config, user: User) -> Grant:
    session = AuthSession.create(user=user, key=new_session_key())
    return _grant(config, user, session)


def revoke(session_key: str) -> None:
    """End the session whose access tokens carry `session_key` (their `sid`)."""
    AuthSession.update(revoked_at=utcnow(), updated_at=utcnow()).where(
        AuthSession.key == session_key, AuthSession.revoked_at.is_null()
    ).execute()


def revoke_all(user_id: int) -> None:
    AuthSession.update(revoked_at=utcnow(), updated_at=utcnow()).where(
        AuthSession.user == user_id, AuthSession.revoked_at.is_null()
    ).execute()


def rotate(config: Config, raw: str) -> tuple[User, Grant]:
    signing_secret(config)
    row = (
        RefreshToken.select(RefreshToken, AuthSession, User)
        .join(AuthSession)
        .join(User)
        .where(RefreshToken.token_hash == hash_refresh_token(raw))
        .first()
    )
    if row is None:
        raise ApiError(TOKEN_INVALID)
    session, user = row.session, row.session.user
    if session.revoked_at is not None:
        raise ApiError(TOKEN_INVALID)
    # Refused before the claim: a token that was never exchanged stays usable
    # once the user is enabled again, rather than counting as stolen then.
    if int(user.status) == Status.DISABLED:
        raise ApiError(USER_DISABLED)
    # Claim the token in one conditional statement: of two concurrent
    # presentations exactly one sees its update succeed.
    claimed = (
        RefreshToken.update(used_at=utcnow(), updated_at=utcnow())
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_null())
        .execute()
    )
    if not claimed:
        revoke(session.key)
        log.warning("refresh token reused: session of %s revoked", mask(user.openid))
        raise ApiError(TOKEN_INVALID)
    if row.expires_at <= utcnow():
        raise ApiError(TOKEN_EXPIRED)
    return user, _grant(config, user, session)

"""Who is calling: a bearer access token, or Cloud Run's identity headers when trusted.

`X-WX-OPENID` is set by Cloud Run's gateway for `wx.cloud.callContainer`
requests, but any client can send it to a public domain, so it is believed
only when WX_TRUST_CLOUD_HEADERS=true and the request carries `X-WX-SOURCE`,
which Cloud Run's documentation names as the sign that a request came
through WeChat.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import g, request

from service import config, db, sessions, users, wechat
from service.errors import TOKEN_INVALID, TOKEN_MISSING, USER_DISABLED, ApiError
from service.models import Status, User
from service.tokens import decode_access_token

P = ParamSpec("P")
R = TypeVar("R")

OPENID_HEADERS = ("X-WX-OPENID", "X-WX-FROM-OPENID")
SOURCE_HEADER = "X-WX-SOURCE"

log = logging.getLogger(__name__)
_said_untrusted = threading.Event()


def cloud_headers_trusted() -> bool:
    """WX_TRUST_CLOUD_HEADERS is on and this request came through WeChat (`X-WX-SOURCE`).

    Without `X-WX-SOURCE` the request is treated as if the switch were off;
    the first such request that carries an identity header is logged, once
    per process, so a misrouted deployment shows up without flooding the log.
    """
    if not config.current().wx_trust_cloud_headers:
        return False
    if request.headers.get(SOURCE_HEADER, "").strip():
        return True
    if any(request.headers.get(h) for h in OPENID_HEADERS) and not _said_untrusted.is_set():
        _said_untrusted.set()
        log.warning(
            "identity headers without %s ignored: the request did not come through WeChat",
            SOURCE_HEADER,
        )
    return False


def cloud_openid() -> str | None:
    for header in OPENID_HEADERS:
        value = request.headers.get(header, "").strip()
        if value:
            return value
    return None


def _from_token(header: str) -> User:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(TOKEN_INVALID)
    claims = decode_access_token(sessions.signing_secret(config.current()), token.strip())
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError):
        raise ApiError(TOKEN_INVALID) from None
    session_key = str(claims.get("sid", ""))
    # The user, if the token's session stands, in one statement: the one round trip
    # of every signed-in read. SQL rather than a peewee join, since building the
    # join's SQL cost a third of a signed-in request's CPU; peewee still makes the
    # User from the row (`raw`). `database.param` is the driver's placeholder.
    p = db.database.param
    rows = User.raw(
        f"""SELECT users.* FROM auth_sessions JOIN users ON users.id = auth_sessions.user_id
        WHERE auth_sessions.`key` = {p} AND auth_sessions.user_id = {p}
        AND auth_sessions.revoked_at IS NULL""",  # noqa: S608 - only placeholders are formatted in
        session_key,
        user_id,
    )
    user: User | None = next(iter(rows), None)
    # No row: the session was revoked, the user deleted (its sessions went with it),
    # or the claim is forged.
    if user is None:
        raise ApiError(TOKEN_INVALID)
    g.session_key = session_key  # for logout, which ends this session
    return user


def _from_cloud_headers(openid: str) -> User:
    """The user the gateway names, checked as code2Session's answer is before it is stored."""
    openid = wechat.storable("gateway", "openid header", openid, User.openid.max_length)
    unionid = request.headers.get("X-WX-UNIONID", "").strip() or None
    if unionid is not None:
        unionid = wechat.storable("gateway", "unionid header", unionid, User.unionid.max_length)
    user, _ = users.find_or_create(openid, unionid)
    return user


def authenticate(*, allow_disabled: bool = False) -> User:
    """The caller, or an ApiError; a disabled user is refused unless `allow_disabled`."""
    header = request.headers.get("Authorization")
    if header is not None:
        user = _from_token(header)
    else:
        openid = cloud_openid() if cloud_headers_trusted() else None
        if openid is None:
            raise ApiError(TOKEN_MISSING)
        user = _from_cloud_headers(openid)
    g.user = user
    g.openid = user.openid  # for the access log, which masks it
    if int(user.status) == Status.DISABLED and not allow_disabled:
        raise ApiError(USER_DISABLED)
    return user


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        authenticate()
        return view(*args, **kwargs)

    return wrapped


def identified(view: Callable[P, R]) -> Callable[P, R]:
    """Like `login_required`, but a disabled user gets through: for ending one's own session."""

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        authenticate(allow_disabled=True)
        return view(*args, **kwargs)

    return wrapped


def current_user() -> User:
    user: User = g.user
    return user

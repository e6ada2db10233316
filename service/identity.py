"""Signing in with WeChat: login, refresh, logout, and Cloud Run's identity headers."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from service import config, ratelimit, sessions, users, wechat
from service.auth import cloud_headers_trusted, cloud_openid, current_user, identified
from service.envelope import success
from service.errors import (
    CLOUD_IDENTITY_DISABLED,
    CLOUD_IDENTITY_MISSING,
    USER_DISABLED,
    ApiError,
)
from service.models import Role, Status, User, utcnow
from service.payload import json_object, optional_https_url, optional_text, required_text
from service.ratelimit import Limit

bp = Blueprint("identity", __name__, url_prefix="/api")


def client_address() -> str:
    """The caller's address; behind a proxy, as ProxyFix recovered it (TRUSTED_PROXY_COUNT)."""
    return request.remote_addr or "unknown"


@bp.post("/login")
def login() -> Response:
    body = json_object()
    code = required_text(body, "code", 128)
    nickname = optional_text(body, "nickname", User.nickname.max_length)
    avatar_url = optional_https_url(body, "avatar_url", User.avatar_url.max_length)

    settings = config.current()
    sessions.signing_secret(settings)  # everything local is checked before WeChat is asked
    window = settings.login_limit_window
    # Before WeChat is asked: WeChat limits code2Session per app, so one client
    # must not spend everyone's allowance.
    ratelimit.hit(
        Limit("login-address", settings.login_limit_per_address, window), client_address()
    )
    wx = wechat.client().code2session(code)
    ratelimit.hit(Limit("login-openid", settings.login_limit_per_openid, window), wx.openid)
    user, created = users.find_or_create(wx.openid, wx.unionid)
    g.openid = user.openid
    if int(user.status) == Status.DISABLED:
        raise ApiError(USER_DISABLED)
    changes = {
        field: value
        for field, value in ((User.nickname, nickname), (User.avatar_url, avatar_url))
        if value is not None
    }
    if changes:
        User.update({**changes, User.updated_at: utcnow()}).where(User.id == user.id).execute()

    grant = sessions.start(settings, user)
    role = Role(int(user.role))
    return success(
        {
            "token": grant.access_token,
            "refresh_token": grant.refresh_token,
            "expires_in": grant.expires_in,
            "user_id": user.id,
            "is_new_user": created,
            "role": int(role),
            "role_name": role.label,
            "is_verified": users.is_verified(user),
        }
    )


@bp.post("/refresh_token")
def refresh_token() -> Response:
    body = json_object()
    raw = required_text(body, "refresh_token", 256)
    user, grant = sessions.rotate(config.current(), raw)
    g.openid = user.openid
    return success(
        {
            "token": grant.access_token,
            "refresh_token": grant.refresh_token,
            "expires_in": grant.expires_in,
            "user_id": user.id,
        }
    )


@bp.post("/logout")
@identified
def logout() -> Response:
    """End the caller's login session: its refresh tokens and its access tokens stop working.

    A disabled user may log out too: ending a session only takes access away,
    and refusing it would keep the session alive for when the user is enabled.
    """
    session_key = g.get("session_key")
    if session_key is not None:
        sessions.revoke(session_key)
    else:  # identified by Cloud Run's headers: there is no one session, end them all
        sessions.revoke_all(current_user().id)
    return success({})


@bp.get("/wx_openid")
def wx_openid() -> Response:
    """The caller's identity as Cloud Run's gateway states it (the official templates' route)."""
    if not cloud_headers_trusted():
        raise ApiError(CLOUD_IDENTITY_DISABLED)
    openid = cloud_openid()
    if openid is None:
        raise ApiError(CLOUD_IDENTITY_MISSING)
    g.openid = openid
    return success(
        {
            "openid": openid,
            "appid": request.headers.get("X-WX-APPID") or None,
            "unionid": request.headers.get("X-WX-UNIONID") or None,
        }
    )

"""The signed-in user's own record: read it, edit what a user may, bind a phone number."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import peewee as pw
from flask import Blueprint, Response

from service import users, wechat
from service.auth import current_user, login_required
from service.envelope import success
from service.errors import PHONE_TAKEN, ROLE_NOT_ALLOWED, ApiError
from service.logs import mask_phone
from service.models import Role, Status, User, VerificationStatus, utcnow
from service.payload import (
    json_object,
    only_fields,
    optional_choice,
    optional_https_url,
    optional_text,
    required_text,
)

bp = Blueprint("profile", __name__, url_prefix="/api/user")

SELF_ROLES = {int(Role.SOLO), int(Role.SUPERVISOR)}
EDITABLE = {"nickname", "avatar_url", "role"}
#: Fields a user can see but never set: the 403 names them rather than calling them unknown.
PROTECTED = frozenset(
    {
        "id",
        "openid",
        "unionid",
        "phone_number",
        "status",
        "verification_status",
        "real_name",
        "work_id",
        "verification_materials",
        "reviewed_by",
        "reviewed_at",
        "review_note",
        "created_at",
        "updated_at",
    }
)


def iso_utc(value: datetime | None) -> str | None:
    return value.replace(tzinfo=UTC).isoformat() if value else None


def describe(user: User, *, owner: bool) -> dict[str, Any]:
    """A user as its owner (full phone number) or an admin (masked) sees it."""
    role = Role(int(user.role))
    status = Status(int(user.status))
    verification = VerificationStatus(int(user.verification_status))
    phone = user.phone_number
    return {
        "id": user.id,
        "openid": user.openid,
        "unionid": user.unionid,
        "nickname": user.nickname,
        "avatar_url": user.avatar_url,
        "phone_number": phone if owner or not phone else mask_phone(phone),
        "role": int(role),
        "role_name": role.label,
        "status": int(status),
        "status_name": status.label,
        "verification_status": int(verification),
        "verification_status_name": verification.label,
        "is_verified": users.is_verified(user),
        "real_name": user.real_name,
        "work_id": user.work_id,
        "verification_materials": user.verification_materials,
        "verification_applied_at": iso_utc(user.verification_applied_at),
        "reviewed_by": user.reviewed_by,
        "reviewed_at": iso_utc(user.reviewed_at),
        "review_note": user.review_note,
        "created_at": iso_utc(user.created_at),
        "updated_at": iso_utc(user.updated_at),
    }


@bp.get("/profile")
@login_required
def profile() -> Response:
    # The row authentication just read, in the same query as the session: no second read.
    return success(describe(current_user(), owner=True))


@bp.route("/profile", methods=["PATCH", "POST"])
@login_required
def edit_profile() -> Response:
    """Nickname, avatar, and a switch between the two self-service roles; nothing else.

    Every field is checked before anything is written, so a refused request
    changes nothing.
    """
    body = json_object()
    only_fields(body, EDITABLE, PROTECTED)
    changes: dict[pw.Field, object] = {}
    nickname = optional_text(body, "nickname", User.nickname.max_length)
    if nickname is not None:
        changes[User.nickname] = nickname
    avatar_url = optional_https_url(body, "avatar_url", User.avatar_url.max_length)
    if avatar_url is not None:
        changes[User.avatar_url] = avatar_url
    if body.get("role") is not None:
        wanted = optional_choice(body, "role", {int(r) for r in Role})
        if wanted not in SELF_ROLES or int(current_user().role) not in SELF_ROLES:
            raise ApiError(ROLE_NOT_ALLOWED)
        changes[User.role] = wanted
    me = current_user()
    if changes:
        # Whole seconds: what a MySQL DATETIME keeps, so the answer below is the stored row.
        changes[User.updated_at] = utcnow().replace(microsecond=0)
        User.update(changes).where(User.id == me.id).execute()
        # The row authentication read, with the same changes: no read after the write.
        for column, value in changes.items():
            setattr(me, column.name, value)
    return success(describe(me, owner=True))


@bp.post("/phone")
@login_required
def bind_phone() -> Response:
    """The number WeChat confirms for the phone button's code; one user per number."""
    code = required_text(json_object(), "code", 128)
    number = wechat.client().phone_number(code)
    me = current_user()
    holder = User.get_or_none(User.phone_number == number.phone_number)
    if holder is not None and holder.id != me.id:
        raise ApiError(PHONE_TAKEN)
    try:
        User.update(phone_number=number.phone_number, updated_at=utcnow()).where(
            User.id == me.id
        ).execute()
    except pw.IntegrityError:  # another user bound it between the check and the write
        raise ApiError(PHONE_TAKEN) from None
    return success(
        {
            "phone_number": number.phone_number,
            "pure_phone_number": number.pure_phone_number,
            "country_code": number.country_code,
        }
    )

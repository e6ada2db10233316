"""The signed-in user's own profile."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response

from service import users
from service.auth import current_user, login_required
from service.envelope import success
from service.models import Role, Status, User, VerificationStatus

bp = Blueprint("profile", __name__, url_prefix="/api/user")


def _utc(value: datetime | None) -> str | None:
    return value.replace(tzinfo=UTC).isoformat() if value else None


def describe(user: User) -> dict[str, Any]:
    """A user as its owner sees it. Every integer set comes with its name."""
    role = Role(int(user.role))
    status = Status(int(user.status))
    verification = VerificationStatus(int(user.verification_status))
    return {
        "id": user.id,
        "openid": user.openid,
        "unionid": user.unionid,
        "nickname": user.nickname,
        "avatar_url": user.avatar_url,
        "role": int(role),
        "role_name": role.label,
        "status": int(status),
        "status_name": status.label,
        "verification_status": int(verification),
        "verification_status_name": verification.label,
        "is_verified": users.is_verified(user),
        "created_at": _utc(user.created_at),
        "updated_at": _utc(user.updated_at),
    }


@bp.get("/profile")
@login_required
def profile() -> Response:
    user = User.get_by_id(current_user().id)  # fresh: the login may just have changed it
    return success(describe(user))

"""Administration: verification reviews and user management, for role 9 only.

Every route of this blueprint is behind one check, made before the view is
even chosen, so a route added later cannot forget it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import peewee as pw
from flask import Blueprint, Response, request

from service import db, outbox, templates
from service.auth import authenticate, current_user
from service.envelope import success
from service.errors import (
    ADMIN_REQUIRED,
    CANNOT_MODIFY_SELF,
    INVALID_PARAMETER,
    USER_NOT_FOUND,
    VERIFICATION_NOT_PENDING,
    ApiError,
)
from service.models import (
    Notification,
    NotificationStatus,
    PushMessage,
    Role,
    Status,
    User,
    VerificationStatus,
    utcnow,
)
from service.payload import json_object, only_fields, optional_choice, optional_text
from service.profile import describe, iso_utc

bp = Blueprint("admin", __name__, url_prefix="/api/admin")

#: callContainer fails a response over 1 MB (-606002): 100 users with every field at
#: its longest came to 1.12 MB, 50 stay near half of it (tests/unit/test_callcontainer_limits.py).
MAX_PAGE_SIZE = 50
ROLES = {int(r) for r in Role}
STATUSES = {int(s) for s in Status}
DECISIONS = {
    "approve": (VerificationStatus.APPROVED, Role.COMMUNITY),
    "reject": (VerificationStatus.REJECTED, None),
}


@bp.before_request
def require_admin() -> None:
    if int(authenticate().role) != Role.ADMIN:
        raise ApiError(ADMIN_REQUIRED)


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(INVALID_PARAMETER, f"{name}参数错误：须为{low}到{high}之间的整数")
    return int(raw)


def _page(
    query: pw.ModelSelect[Any], show: Callable[[Any], dict[str, Any]] | None = None
) -> dict[str, Any]:
    page = _int_arg("page", 1, 1, 1_000_000) or 1
    size = _int_arg("size", 20, 1, MAX_PAGE_SIZE) or 20
    show = show or (lambda user: describe(user, owner=False))
    return {
        "items": [show(row) for row in query.paginate(page, size)],
        "page": page,
        "size": size,
        "total": query.count(),
    }


def _choice_arg(name: str, choices: set[int], default: int | None = None) -> int | None:
    value = _int_arg(name, default, 0, 99)
    if value is not None and value not in choices:
        raise ApiError(INVALID_PARAMETER, f"{name}参数错误：须为{sorted(choices)}之一")
    return value


@bp.get("/verifications")
def verifications() -> Response:
    status = _choice_arg("status", {int(v) for v in VerificationStatus}, VerificationStatus.PENDING)
    query = (
        User.select()
        .where(User.verification_status == status)
        .order_by(User.verification_applied_at.desc(), User.id.desc())
    )
    return success(_page(query))


@bp.post("/verifications/<int(max=2147483647):user_id>")
def review(user_id: int) -> Response:
    body = json_object()
    only_fields(body, {"decision", "note"})
    decision = body.get("decision")
    if not isinstance(decision, str) or decision not in DECISIONS:
        raise ApiError(INVALID_PARAMETER, "decision参数错误：须为approve或reject")
    note = optional_text(body, "note", 255)
    if not User.select().where(User.id == user_id).exists():
        raise ApiError(USER_NOT_FOUND)
    outcome, role = DECISIONS[decision]
    changes: dict[pw.Field, object] = {
        User.verification_status: int(outcome),
        User.reviewed_by: current_user().id,
        User.reviewed_at: utcnow(),
        User.review_note: note,
        User.updated_at: utcnow(),
    }
    if role is not None:
        changes[User.role] = int(role)
    # The decision and the applicant's notification commit together, or neither does.
    with db.database.atomic():
        # Only a pending application can be decided, and only once.
        decided = (
            User.update(changes)
            .where(User.id == user_id, User.verification_status == VerificationStatus.PENDING)
            .execute()
        )
        if not decided:
            raise ApiError(VERIFICATION_NOT_PENDING)
        reviewed = User.get_by_id(user_id)
        notice = outbox.notify(
            templates.VERIFICATION_RESULT, user_id, templates.verification_result(reviewed)
        )
    outbox.send_soon([notice] if notice is not None else [])
    return success(describe(reviewed, owner=False))


@bp.get("/users")
def list_users() -> Response:
    query = User.select().order_by(User.id.desc())
    role = _choice_arg("role", ROLES)
    if role is not None:
        query = query.where(User.role == role)
    status = _choice_arg("status", STATUSES)
    if status is not None:
        query = query.where(User.status == status)
    return success(_page(query))


def _write_locked() -> Any:
    """A transaction that serialises admin changes: MySQL locks the rows it reads
    FOR UPDATE; SQLite has one writer, taken at BEGIN IMMEDIATE rather than at
    the first write, so two checks cannot both read before either writes."""
    if db.is_mysql():
        return db.database.atomic()
    return db.database.atomic(lock_type="IMMEDIATE")


def _active_admin_ids() -> set[int]:
    query = User.select(User.id).where(User.role == Role.ADMIN, User.status == Status.NORMAL)
    if db.is_mysql():
        query = query.for_update()
    return {row.id for row in query}


def _message(row: PushMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "msg_id": row.msg_id,
        "from_user": row.from_user,
        "to_user": row.to_user,
        "msg_type": row.msg_type,
        "event": row.event,
        "content": row.content,
        "create_time": row.create_time,
        "received_at": iso_utc(row.created_at),
    }


@bp.get("/messages")
def messages() -> Response:
    """What Cloud Run pushed (消息推送), newest first."""
    query = PushMessage.select().order_by(PushMessage.id.desc())
    return success(_page(query, _message))


@bp.get("/notifications")
def notifications() -> Response:
    """Subscribe messages and how their delivery went, newest first; `status` filters."""
    query = Notification.select().order_by(Notification.id.desc())
    status = request.args.get("status")
    if status:
        if status not in NotificationStatus.ALL:
            choices = "、".join(NotificationStatus.ALL)
            raise ApiError(INVALID_PARAMETER, f"status参数错误：须为{choices}之一")
        query = query.where(Notification.status == status)
    return success(_page(query, outbox.describe))


@bp.patch("/users/<int(max=2147483647):user_id>")
def update_user(user_id: int) -> Response:
    """Change a user's status or role; never leave the service without an active admin.

    The check and the write share one locked transaction, so two admins
    disabling each other at once cannot both succeed: the second finds that
    it is no longer an active admin (403 admin_required).
    Disabling keeps the user's sessions: every request answers 403
    user_disabled meanwhile (refresh included, without using the token up),
    and re-enabling lets them carry on.
    """
    body = json_object()
    only_fields(body, {"status", "role"})
    status = optional_choice(body, "status", STATUSES)
    role = optional_choice(body, "role", ROLES)
    me = current_user().id
    if user_id == me and (
        (status is not None and status != Status.NORMAL)
        or (role is not None and role != Role.ADMIN)
    ):
        raise ApiError(CANNOT_MODIFY_SELF)
    changes: dict[pw.Field, object] = {User.updated_at: utcnow()}
    if status is not None:
        changes[User.status] = status
    if role is not None:
        changes[User.role] = role
    with _write_locked():
        # The caller must still be an active admin when the write happens.
        # With no one allowed to remove themselves, that caller outlives the
        # change: there is always one active admin left.
        if me not in _active_admin_ids():
            raise ApiError(ADMIN_REQUIRED)
        if not User.select().where(User.id == user_id).exists():
            raise ApiError(USER_NOT_FOUND)
        User.update(changes).where(User.id == user_id).execute()
    return success(describe(User.get_by_id(user_id), owner=False))

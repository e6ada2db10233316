"""Community-worker verification: a user applies, an admin approves or rejects."""

from __future__ import annotations

from flask import Blueprint, Response

from service.auth import current_user, login_required
from service.envelope import success
from service.errors import ALREADY_VERIFIED, VERIFICATION_PENDING, ApiError
from service.models import User, VerificationStatus, utcnow
from service.payload import json_object, only_fields, required_text

bp = Blueprint("verification", __name__, url_prefix="/api/community")

#: The original template's field names.
FIELDS = {"name", "workId", "workProof"}
MAY_APPLY = (int(VerificationStatus.NOT_APPLIED), int(VerificationStatus.REJECTED))


@bp.post("/verify")
@login_required
def apply() -> Response:
    body = json_object()
    only_fields(body, FIELDS)
    name = required_text(body, "name", 64)
    work_id = required_text(body, "workId", 64)
    proof = required_text(body, "workProof", 2048)
    me = current_user()
    now = utcnow()
    # One conditional statement: two simultaneous applications cannot both pass.
    applied = (
        User.update(
            verification_status=int(VerificationStatus.PENDING),
            real_name=name,
            work_id=work_id,
            verification_materials=proof,
            verification_applied_at=now,
            reviewed_by=None,
            reviewed_at=None,
            review_note=None,
            updated_at=now,
        )
        .where(User.id == me.id, User.verification_status.in_(MAY_APPLY))
        .execute()
    )
    if not applied:
        current = int(User.get_by_id(me.id).verification_status)
        raise ApiError(
            ALREADY_VERIFIED if current == VerificationStatus.APPROVED else VERIFICATION_PENDING
        )
    status = VerificationStatus.PENDING
    return success({"verification_status": int(status), "verification_status_name": status.label})

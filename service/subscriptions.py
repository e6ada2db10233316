"""Subscribe-message permissions (订阅消息): what the user allowed, counted per template.

The mini program asks with `wx.requestSubscribeMessage({tmplIds})` and posts
the result object here. Each `accept` lets the service send that template to
that user once; WeChat keeps the real count, and answers 43101 once it is
spent. The count here is the service's own copy, so that a notification with
no permission left is refused without calling WeChat. A client can claim
accepts it never had: that only costs a 43101, after which the count is
corrected to none.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from service import config, db, templates
from service.auth import current_user, login_required
from service.envelope import success
from service.errors import INVALID_PARAMETER, MISSING_PARAMETER, ApiError
from service.models import SubscribePermission, utcnow
from service.payload import json_object

bp = Blueprint("subscriptions", __name__, url_prefix="/api/user")

#: The answers that allow one send (`acceptWithAudio`: accepted, with a voice reminder).
ACCEPTED = frozenset({"accept", "acceptWithAudio"})
#: Every answer requestSubscribeMessage gives for a template.
ANSWERS = ACCEPTED | {"reject", "ban", "filter"}
#: Keys of the result object that are not template ids.
NOT_TEMPLATE_IDS = frozenset({"errMsg", "errCode"})
#: requestSubscribeMessage asks for at most 5 templates at once; more is not its result.
MAX_TEMPLATES = 20


def grant(user_id: int, template_id: str) -> None:
    """One more send allowed: one statement, so concurrent accepts are all counted."""
    now = utcnow()
    query = SubscribePermission.insert(
        user=user_id, template_id=template_id, remaining=1, created_at=now, updated_at=now
    )
    update = {
        SubscribePermission.remaining: SubscribePermission.remaining + 1,
        SubscribePermission.updated_at: now,
    }
    if db.is_mysql():  # ON DUPLICATE KEY UPDATE: MySQL takes no conflict target
        query = query.on_conflict(update=update)
    else:
        query = query.on_conflict(
            conflict_target=[SubscribePermission.user, SubscribePermission.template_id],
            update=update,
        )
    query.execute()


def _row(user_id: int, template_id: str) -> Any:
    return (SubscribePermission.user == user_id) & (SubscribePermission.template_id == template_id)


def take(user_id: int, template_id: str) -> bool:
    """Spend one permission; False when none is left. One conditional statement, so two
    senders cannot spend the same one."""
    spent = (
        SubscribePermission.update(remaining=SubscribePermission.remaining - 1, updated_at=utcnow())
        .where(_row(user_id, template_id), SubscribePermission.remaining > 0)
        .execute()
    )
    return bool(spent)


def give_back(user_id: int, template_id: str) -> None:
    """Return a permission that WeChat proved unspent (it delivered nothing)."""
    SubscribePermission.update(
        remaining=SubscribePermission.remaining + 1, updated_at=utcnow()
    ).where(_row(user_id, template_id)).execute()


def forget(user_id: int, template_id: str) -> None:
    """WeChat says none is left (43101): the user refused, or cancelled in settings."""
    SubscribePermission.update(remaining=0, updated_at=utcnow()).where(
        _row(user_id, template_id)
    ).execute()


def remaining(user_id: int, template_ids: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(template_ids, 0)
    rows = SubscribePermission.select(
        SubscribePermission.template_id, SubscribePermission.remaining
    ).where(SubscribePermission.user == user_id)
    for row in rows:
        if row.template_id in counts:
            counts[row.template_id] = int(row.remaining)
    return counts


def _results(body: dict[str, Any]) -> dict[str, str]:
    results = {key: value for key, value in body.items() if key not in NOT_TEMPLATE_IDS}
    if not results:
        raise ApiError(MISSING_PARAMETER, "缺少订阅结果：须为wx.requestSubscribeMessage的返回对象")
    if len(results) > MAX_TEMPLATES:
        raise ApiError(INVALID_PARAMETER, f"订阅结果参数错误：最多{MAX_TEMPLATES}个模板")
    if not all(isinstance(value, str) and value in ANSWERS for value in results.values()):
        raise ApiError(
            INVALID_PARAMETER, "订阅结果参数错误：每个模板的结果须为accept、reject、ban或filter"
        )
    return results


@bp.post("/subscriptions")
@login_required
def record() -> Response:
    """Count each `accept` of a template this service sends; report the ids it does not know."""
    results = _results(json_object())
    known = templates.configured(config.current())
    accepted = sorted(tid for tid, answer in results.items() if tid in known and answer in ACCEPTED)
    me = current_user().id
    with db.database.atomic():
        for template_id in accepted:
            grant(me, template_id)
    return success(
        {
            "recorded": accepted,
            "ignored": sorted(tid for tid in results if tid not in known),
            "remaining": remaining(me, sorted(known)),
        }
    )


@bp.get("/subscriptions")
@login_required
def show() -> Response:
    """The sends left per template, and which template ids to ask for (name -> id)."""
    known = templates.configured(config.current())
    return success(
        {
            "remaining": remaining(current_user().id, sorted(known)),
            "templates": {template.name: tid for tid, template in known.items()},
        }
    )

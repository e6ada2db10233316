"""Users, found or created by the openid WeChat vouches for."""

from __future__ import annotations

import peewee as pw

from service.models import User, VerificationStatus, utcnow


def find_or_create(openid: str, unionid: str | None = None) -> tuple[User, bool]:
    """The user for `openid` and whether it was created now.

    Two first logins of one person can race; the unique index on openid lets
    exactly one insert win, and the loser reads the winner's row.
    """
    user = User.get_or_none(User.openid == openid)
    if user is None:
        # One INSERT, atomic by itself: no transaction around it (that would be
        # BEGIN and COMMIT, two more round trips). A losing insert changes nothing
        # and leaves any enclosing transaction usable, on MySQL and SQLite alike.
        try:
            return User.create(openid=openid, unionid=unionid), True
        except pw.IntegrityError:
            user = User.get(User.openid == openid)
    if unionid and user.unionid != unionid:
        User.update(unionid=unionid, updated_at=utcnow()).where(User.id == user.id).execute()
        user.unionid = unionid
    return user, False


def is_verified(user: User) -> bool:
    return int(user.verification_status) == VerificationStatus.APPROVED

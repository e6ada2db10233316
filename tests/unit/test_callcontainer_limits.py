"""wx.cloud.callContainer's limits: requests up to 100 KB, responses up to 1 MB.

A response over 1 MB fails in the mini program with -606002 however right it
is, so the largest answer the service can give is measured: an admin page at
its maximum size, every user's every field at the longest the API accepts, in
the widest UTF-8 (4 bytes a character, as emoji are).
"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from service.config import Config
from service.models import User, utcnow
from tests.support.identity import SignedIn

CALL_CONTAINER_REQUEST_LIMIT = 100 * 1024
CALL_CONTAINER_RESPONSE_LIMIT = 1024 * 1024
#: The largest admin page, as docs/api.md and openapi.yaml give it (`size` 1–50).
LARGEST_PAGE = 50
WIDE = "😀"  # 4 bytes in UTF-8; responses are not ASCII-escaped


def longest(field: str, limit: int) -> str:
    return WIDE * limit if field != "avatar_url" else "https://" + "a" * (limit - len("https://"))


def test_max_body_bytes_fits_in_a_callcontainer_request(app: Flask) -> None:
    assert Config().max_body_bytes < CALL_CONTAINER_REQUEST_LIMIT
    assert app.config["MAX_CONTENT_LENGTH"] < CALL_CONTAINER_REQUEST_LIMIT


def test_the_largest_admin_page_fits_in_a_callcontainer_response(
    client: FlaskClient, admin: SignedIn
) -> None:
    now = utcnow()
    rows = [
        {
            "openid": f"o{n:03d}" + "x" * (User.openid.max_length - 4),
            "unionid": "u" * User.unionid.max_length,
            "nickname": longest("nickname", User.nickname.max_length),
            "avatar_url": longest("avatar_url", User.avatar_url.max_length),
            "phone_number": f"+{n:03d}" + "9" * (User.phone_number.max_length - 4),
            "real_name": longest("real_name", 64),  # POST /api/community/verify: name ≤ 64
            "work_id": longest("work_id", 64),  # workId ≤ 64
            "verification_materials": longest("workProof", 2048),  # workProof ≤ 2048
            "review_note": longest("note", User.review_note.max_length),
            "verification_applied_at": now,
            "reviewed_at": now,
            "reviewed_by": 2**31 - 1,
        }
        for n in range(LARGEST_PAGE)
    ]
    User.insert_many(rows).execute()
    response = client.get(f"/api/admin/users?size={LARGEST_PAGE}&page=1", headers=admin.headers)
    assert response.status_code == 200
    assert len(response.json["data"]["items"]) == LARGEST_PAGE
    size = len(response.get_data())
    print(f"largest admin page: {size:,} bytes of {CALL_CONTAINER_RESPONSE_LIMIT:,}")
    assert size < CALL_CONTAINER_RESPONSE_LIMIT

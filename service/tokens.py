"""Access tokens (JWT, HS256) and refresh tokens (opaque, stored hashed).

Decoding pins the algorithm and requires `exp`, `iat` and `sub`, so a token
with `alg: none`, another algorithm, or no expiry is rejected outright.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from typing import Any

import jwt

from service.errors import TOKEN_EXPIRED, TOKEN_INVALID, ApiError

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "sub"]


def issue_access_token(
    secret: str, *, user_id: int, openid: str, role: int, session_key: str, ttl: int
) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "openid": openid,
        "role": role,
        "sid": session_key,  # the login session: revoking it ends this token too
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_access_token(secret: str, token: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": REQUIRED_CLAIMS}
        )
    except jwt.ExpiredSignatureError:
        raise ApiError(TOKEN_EXPIRED) from None
    except jwt.InvalidTokenError:
        raise ApiError(TOKEN_INVALID) from None
    return claims


def new_refresh_token() -> str:
    return secrets.token_urlsafe(48)


def hash_refresh_token(raw: str) -> str:
    """SHA-256 is enough here: the token is 384 random bits, not a guessable password."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_session_key() -> str:
    return uuid.uuid4().hex

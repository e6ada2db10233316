"""Access tokens (JWT, HS256) and refresh tokens (opaque, stored hashed).

Decoding pins the algorithm and requires `exp`, `iat` and `sub`, so a token
with `alg: none`, another algorithm, or no expiry is rejected outright.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
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


#: Tokens whose signature and claims passed, per process, oldest first: (secret, token) -> claims.
_VERIFIED: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
_VERIFIED_MAX = 4096
_verified_lock = threading.Lock()


def decode_access_token(
    secret: str, token: str, clock: Callable[[], float] = time.time
) -> dict[str, Any]:
    """The token's claims, or 401 token_expired / token_invalid.

    A mini program sends the same token with every request until it expires,
    and checking it (three base64 segments, two JSON documents, the key's
    checks, an HMAC) is a fifth of a signed-in request's CPU. A token that
    passed once passes again until `exp`, its only claim that changes with
    time, so the claims of the last few thousand are kept, and `exp` is
    checked on every use as PyJWT checks it. Whether the session still
    stands is asked of the database each time, never remembered. `clock`
    is what a remembered token's `exp` is checked against (PyJWT checks a new
    one against its own); a test passes its own to move past `exp`.
    """
    key = (secret, token)
    with _verified_lock:
        known = _VERIFIED.get(key)
        if known is not None:
            _VERIFIED.move_to_end(key)
    if known is not None:
        if known["exp"] <= clock():
            with _verified_lock:
                _VERIFIED.pop(key, None)
            raise ApiError(TOKEN_EXPIRED)
        return dict(known)
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": REQUIRED_CLAIMS}
        )
    except jwt.ExpiredSignatureError:
        raise ApiError(TOKEN_EXPIRED) from None
    except jwt.InvalidTokenError:
        raise ApiError(TOKEN_INVALID) from None
    with _verified_lock:
        _VERIFIED[key] = dict(claims)
        while len(_VERIFIED) > _VERIFIED_MAX:
            _VERIFIED.popitem(last=False)
    return claims


def new_refresh_token() -> str:
    return secrets.token_urlsafe(48)


def hash_refresh_token(raw: str) -> str:
    """SHA-256 is enough here: the token is 384 random bits, not a guessable password."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_session_key() -> str:
    return uuid.uuid4().hex

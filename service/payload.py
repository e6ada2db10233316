"""Reading a request's JSON body, with an envelope error for every way it can be wrong."""

from __future__ import annotations

import json
from typing import Any, NoReturn
from urllib.parse import urlsplit

from flask import request
from werkzeug.exceptions import HTTPException

from service.errors import (
    BAD_REQUEST,
    FIELD_NOT_ALLOWED,
    INVALID_JSON,
    INVALID_PARAMETER,
    MISSING_PARAMETER,
    PAYLOAD_TOO_LARGE,
    UNKNOWN_FIELD,
    UNSUPPORTED_MEDIA_TYPE,
    ApiError,
)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _has_lone_surrogate(value: Any) -> bool:
    """True when a string anywhere in `value`, key or value, cannot be encoded as UTF-8.

    JSON's `\\ud800` escape, and the bytes ED A0 80 that Python's decoder lets
    through, both give a string with a lone UTF-16 surrogate: valid to
    Python, unstorable in a database and unprintable in a response. Walked
    with a stack, since the body may nest as deep as the parser allowed.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def body_bytes(*, cache: bool) -> bytes:
    """The request body as sent; 400 bad_request when its framing is broken.

    The server decodes a chunked body while the app reads it, so a malformed
    chunk surfaces here, as the server's own exception: WSGI leaves its type to
    the server, hence the broad `except`. It is the client's error, not ours,
    and the server closes the connection after the answer (the next request's
    start is unknown). Werkzeug's own answers (413, a client gone or too slow
    to send, 400) pass through as they are.
    """
    try:
        return request.get_data(cache=cache)
    except HTTPException:
        raise
    except Exception:
        raise ApiError(BAD_REQUEST) from None


def json_object() -> dict[str, Any]:
    """The body as a JSON object.

    Parsed here rather than with `request.get_json()` so that every failure
    (invalid UTF-8, lone surrogates, nesting deep enough to exhaust the
    recursion limit, integers too long to convert, NaN) becomes a 400 instead
    of a 500, before the view does anything with it. Werkzeug enforces the
    size limit when the body is read (413).
    """
    if not request.is_json:
        raise ApiError(UNSUPPORTED_MEDIA_TYPE)
    raw = body_bytes(cache=True)
    if request.content_length is None:
        # A body with no Content-Length (chunked) is cut at the limit rather
        # than refused by Werkzeug; what was cut off must not be parsed as all of it.
        limit = request.max_content_length
        if limit is not None and len(raw) >= limit:
            raise ApiError(PAYLOAD_TOO_LARGE)
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(INVALID_JSON) from None
    if not isinstance(value, dict) or _has_lone_surrogate(value):
        raise ApiError(INVALID_JSON)
    return value


def optional_text(body: dict[str, Any], name: str, max_length: int) -> str | None:
    """A string field that may be absent or null; present, it must be 1..max_length characters."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise ApiError(INVALID_PARAMETER, f"{name}参数错误：须为不超过{max_length}个字符的字符串")
    return value.strip()


def required_text(body: dict[str, Any], name: str, max_length: int) -> str:
    value = optional_text(body, name, max_length)
    if value is None:
        raise ApiError(MISSING_PARAMETER, f"缺少{name}参数")
    return value


def _is_https_url(value: str) -> bool:
    """An absolute https URL with a host, no credentials, and nothing a browser would mangle."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme.lower() == "https"
        and bool(parts.hostname)
        and parts.username is None
        and parts.password is None
        and "@" not in parts.netloc
    )


def optional_https_url(body: dict[str, Any], name: str, max_length: int) -> str | None:
    value = optional_text(body, name, max_length)
    if value is not None and not _is_https_url(value):
        raise ApiError(INVALID_PARAMETER, f"{name}参数错误：须为https链接")
    return value


def optional_choice(body: dict[str, Any], name: str, choices: set[int]) -> int | None:
    """An integer field limited to `choices` (JSON true/false are not integers here)."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in choices:
        allowed = "、".join(str(c) for c in sorted(choices))
        raise ApiError(INVALID_PARAMETER, f"{name}参数错误：须为{allowed}之一")
    return value


def only_fields(
    body: dict[str, Any], allowed: set[str], protected: frozenset[str] = frozenset()
) -> None:
    """Refuse a body with fields the caller may not set (403) or that do not exist (400)."""
    for name in body:
        if name in protected:
            raise ApiError(FIELD_NOT_ALLOWED, f"不允许修改{name}")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(UNKNOWN_FIELD, f"包含未知字段：{', '.join(unknown)}")
    if not body:
        raise ApiError(MISSING_PARAMETER, "没有要修改的字段")

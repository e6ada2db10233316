"""Reading a request's JSON body, with an envelope error for every way it can be wrong."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from flask import request

from service.errors import INVALID_JSON, UNSUPPORTED_MEDIA_TYPE, ApiError


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def json_object() -> dict[str, Any]:
    """The body as a JSON object.

    Parsed here rather than with `request.get_json()` so that every failure
    (invalid UTF-8, nesting deep enough to exhaust the recursion limit,
    integers too long to convert, NaN) becomes a 400 instead of a 500.
    Werkzeug enforces the size limit when the body is read (413).
    """
    if not request.is_json:
        raise ApiError(UNSUPPORTED_MEDIA_TYPE)
    raw = request.get_data(cache=True)
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(INVALID_JSON) from None
    if not isinstance(value, dict):
        raise ApiError(INVALID_JSON)
    return value

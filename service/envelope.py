"""The response envelope every /api endpoint speaks: `{code, data, msg}`.

`code` is 1 for success and 0 for failure, as in the original template, so
existing mini-program clients keep working; failures add a stable `error` key
and carry a real HTTP status as well.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify


def success(data: Any, status: int = 200) -> Response:
    response = jsonify({"code": 1, "data": data, "msg": "success"})
    response.status_code = status
    return response


def failure(status: int, key: str, message: str) -> Response:
    response = jsonify({"code": 0, "data": {}, "msg": message, "error": key})
    response.status_code = status
    return response

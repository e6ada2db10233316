"""Every error a client can see: one definition each, and the handlers that send them.

Clients branch on `error`, a stable snake_case key; `msg` is for people and
stays Chinese like the original template's. Each key has exactly one HTTP
status, so the status, the key and the message can never disagree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import peewee as pw
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from service.db import UNAVAILABLE_ERRORS, driver_error
from service.envelope import failure
from service.request_id import current_request_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorKind:
    status: int
    key: str
    message: str


class ApiError(Exception):
    """Raised by views; turned into an envelope with the kind's status."""

    def __init__(
        self, kind: ErrorKind, message: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(kind.key)
        self.kind = kind
        self.message = message or kind.message
        self.headers = headers or {}


MISSING_ACTION = ErrorKind(400, "missing_action", "缺少action参数")
INVALID_ACTION = ErrorKind(400, "invalid_action", "action参数错误")
INVALID_JSON = ErrorKind(400, "invalid_json", "请求体必须是JSON对象")
MISSING_PARAMETER = ErrorKind(400, "missing_parameter", "缺少必填参数")
INVALID_PARAMETER = ErrorKind(400, "invalid_parameter", "参数错误")
INVALID_CODE = ErrorKind(400, "invalid_code", "登录凭证无效或已被使用，请重新登录")
TOKEN_MISSING = ErrorKind(401, "token_missing", "缺少访问令牌")
TOKEN_INVALID = ErrorKind(401, "token_invalid", "访问令牌无效")
TOKEN_EXPIRED = ErrorKind(401, "token_expired", "访问令牌已过期")
CLOUD_IDENTITY_MISSING = ErrorKind(401, "cloud_identity_missing", "请求未携带云托管用户身份")
USER_DISABLED = ErrorKind(403, "user_disabled", "用户已被禁用")
WECHAT_RISKY_USER = ErrorKind(403, "wechat_risky_user", "微信判定该用户存在风险，暂不能登录")
CLOUD_IDENTITY_DISABLED = ErrorKind(
    403, "cloud_identity_disabled", "未启用云托管身份（WX_TRUST_CLOUD_HEADERS）"
)
UNKNOWN_FIELD = ErrorKind(400, "unknown_field", "包含未知字段")
FIELD_NOT_ALLOWED = ErrorKind(403, "field_not_allowed", "不允许修改该字段")
ROLE_NOT_ALLOWED = ErrorKind(403, "role_not_allowed", "只能在独居(1)与监护人(2)之间切换角色")
ADMIN_REQUIRED = ErrorKind(403, "admin_required", "需要管理员权限")
CANNOT_MODIFY_SELF = ErrorKind(403, "cannot_modify_self", "管理员不能禁用或降级自己")
NOT_FOUND = ErrorKind(404, "not_found", "接口不存在")
USER_NOT_FOUND = ErrorKind(404, "user_not_found", "用户不存在")
PHONE_TAKEN = ErrorKind(409, "phone_taken", "该手机号已绑定其他用户")
VERIFICATION_PENDING = ErrorKind(409, "verification_pending", "认证申请审核中，请勿重复提交")
ALREADY_VERIFIED = ErrorKind(409, "already_verified", "已通过社区工作者认证")
VERIFICATION_NOT_PENDING = ErrorKind(409, "verification_not_pending", "该用户没有待审核的认证申请")
COUNTER_AT_MAXIMUM = ErrorKind(409, "counter_at_maximum", "计数已达上限，请先清零")
METHOD_NOT_ALLOWED = ErrorKind(405, "method_not_allowed", "不支持该请求方法")
PAYLOAD_TOO_LARGE = ErrorKind(413, "payload_too_large", "请求体过大")
UNSUPPORTED_MEDIA_TYPE = ErrorKind(
    415, "unsupported_media_type", "Content-Type必须是application/json"
)
RATE_LIMITED = ErrorKind(429, "rate_limited", "请求过于频繁，请稍后重试")
WECHAT_RATE_LIMITED = ErrorKind(429, "wechat_rate_limited", "微信接口调用过于频繁，请稍后重试")
INTERNAL_ERROR = ErrorKind(500, "internal_error", "服务器内部错误")
WECHAT_ERROR = ErrorKind(502, "wechat_error", "微信服务返回错误")
WECHAT_UNAVAILABLE = ErrorKind(502, "wechat_unavailable", "微信服务暂时不可用，请稍后重试")
WECHAT_BAD_RESPONSE = ErrorKind(502, "wechat_bad_response", "微信服务返回的数据无效")
WECHAT_SECRET_MISSING = ErrorKind(
    503, "wechat_secret_missing", "服务未配置WX_SECRET，暂不能用微信登录"
)
TOKEN_SECRET_MISSING = ErrorKind(503, "token_secret_missing", "服务未配置TOKEN_SECRET，暂不能登录")
DATABASE_UNAVAILABLE = ErrorKind(503, "database_unavailable", "数据库暂时不可用，请稍后重试")
SCHEMA_NOT_READY = ErrorKind(503, "schema_not_ready", "数据库尚未初始化，请稍后重试")

#: What gunicorn answers itself, before the app runs (service.gunicorn_worker puts them in the
#: envelope), and a body whose framing the server cannot read (service.payload.body_bytes).
BAD_REQUEST = ErrorKind(400, "bad_request", "请求格式错误")
URI_TOO_LONG = ErrorKind(414, "uri_too_long", "请求地址过长")
HEADERS_TOO_LARGE = ErrorKind(431, "headers_too_large", "请求头过大")

#: Werkzeug's own HTTP errors, for the codes a client can provoke on /api.
_BY_STATUS = {
    kind.status: kind
    for kind in (NOT_FOUND, METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE)
}

ALL_KINDS = tuple(value for value in list(globals().values()) if isinstance(value, ErrorKind))


def gunicorn_error(status: int, reason: str) -> ErrorKind:
    """The kind for a status gunicorn chose; statuses without one of their own are http_error."""
    for kind in (BAD_REQUEST, URI_TOO_LONG, HEADERS_TOO_LARGE):
        if kind.status == status:
            return kind
    return ErrorKind(status, "http_error", reason)


def error_response(kind: ErrorKind, message: str | None = None) -> Response:
    return failure(kind.status, kind.key, message or kind.message)


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _on_api_error(error: ApiError) -> Response:
    response = error_response(error.kind, error.message)
    response.headers.update(error.headers)
    return response


def _on_http_error(error: HTTPException) -> Response | HTTPException:
    if not _is_api():
        return error
    kind = _BY_STATUS.get(error.code or 500)
    if kind is None:
        response = failure(error.code or 500, "http_error", error.name)
    else:
        response = error_response(kind)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response


#: MySQL's "table doesn't exist"; SQLite says "no such table".
NO_SUCH_TABLE = 1146


def _missing_table(error: Exception) -> bool:
    code, message = driver_error(error)
    return code == NO_SUCH_TABLE or message.lower().startswith("no such table")


def _on_schema_missing(error: Exception) -> Response:
    log.error(
        "database has no tables yet (%s): run `flask db upgrade` or set AUTO_MIGRATE=true",
        driver_error(error)[1],
        extra={"request_id": current_request_id()},
    )
    return error_response(SCHEMA_NOT_READY)


def _on_unavailable(error: Exception) -> Response:
    if _missing_table(error):
        return _on_schema_missing(error)
    code, message = driver_error(error)
    log.warning(
        "database unavailable: %s %s %s",
        type(error).__name__,
        code if code is not None else "-",
        message,
        extra={"request_id": current_request_id()},
    )
    return error_response(DATABASE_UNAVAILABLE)


def _on_programming_error(error: Exception) -> Response:
    return _on_schema_missing(error) if _missing_table(error) else _on_unexpected(error)


def _on_unexpected(error: Exception) -> Response:
    log.error(
        "unhandled %s on %s %s",
        type(error).__name__,
        request.method,
        request.path,
        exc_info=error,
        extra={"request_id": current_request_id()},
    )
    return error_response(INTERNAL_ERROR)


def _options_without_body(response: Response) -> Response:
    """Flask answers OPTIONS itself with 200 and an empty HTML body; on /api that is a
    documented 204 with `Allow`, the one /api answer that carries no envelope."""
    if (
        request.method == "OPTIONS"
        and _is_api()
        and response.status_code == 200
        and not response.get_data()
    ):
        response.status_code = 204
        del response.headers["Content-Type"]
    return response


def register(app: Flask) -> None:
    app.after_request(_options_without_body)
    app.register_error_handler(ApiError, _on_api_error)
    app.register_error_handler(HTTPException, _on_http_error)
    for error_type in UNAVAILABLE_ERRORS:
        app.register_error_handler(error_type, _on_unavailable)
    app.register_error_handler(pw.ProgrammingError, _on_programming_error)
    app.register_error_handler(Exception, _on_unexpected)

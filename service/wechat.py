"""The WeChat API, as this service uses it: login codes, the access token, phone numbers.

One `requests.Session` per client (connection reuse), TLS verification on,
connect/read timeouts on every call. What WeChat answers is turned into the
service's own errors here, so views never see an errcode.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import requests
from flask import current_app
from urllib3.exceptions import MaxRetryError, NewConnectionError

from service.config import Config
from service.errors import (
    INVALID_CODE,
    WECHAT_BAD_RESPONSE,
    WECHAT_ERROR,
    WECHAT_RATE_LIMITED,
    WECHAT_RISKY_USER,
    WECHAT_SECRET_MISSING,
    WECHAT_UNAVAILABLE,
    ApiError,
)
from service.logs import mask
from service.models import User

log = logging.getLogger(__name__)

BUSY = -1
CODE_USED = 40163
ACCESS_TOKEN_INVALID = {40001, 40014, 42001}
#: WeChat's answers that mean something to the client; any other errcode is wechat_error.
ERRCODE_KINDS = {
    40029: INVALID_CODE,  # invalid code
    CODE_USED: INVALID_CODE,
    45011: WECHAT_RATE_LIMITED,
    40226: WECHAT_RISKY_USER,  # high-risk user
}
#: A cached access token is replaced this long before WeChat says it expires.
TOKEN_MARGIN_SECONDS = 300


@dataclass(frozen=True)
class WxSession:
    openid: str
    session_key: str = field(repr=False)  # never leaves this process
    unionid: str | None = None


@dataclass(frozen=True)
class PhoneNumber:
    phone_number: str
    pure_phone_number: str
    country_code: str


#: Unicode categories no stored value may contain: control characters (NUL among them)
#: and lone surrogates, which JSON's \ud800 escapes can carry but UTF-8 cannot encode.
_UNSTORABLE = {"Cc", "Cs"}


def _fault(value: str, limit: int) -> str | None:
    if not value:
        return "empty"
    if len(value) > limit:
        return f"over {limit} characters"
    if any(unicodedata.category(c) in _UNSTORABLE for c in value):
        return "a control character or a lone surrogate"
    if value != value.strip():
        # MySQL's utf8mb4_bin ignores trailing spaces in comparisons; SQLite does not.
        return "space at either end"
    return None


def storable(source: str, name: str, value: object, limit: int) -> str:
    """`value`, if it is text that its column (`limit` characters of utf8mb4) keeps as it is.

    Anything else is 502 wechat_bad_response before anything is written, and
    one log line names the field and what is wrong with it, never the value:
    these are openids and phone numbers. Unchecked, a phone number longer than
    its column was a 500 on MySQL (and stored whole on SQLite), and a lone
    surrogate a 500 on both.
    """
    fault = _fault(value, limit) if isinstance(value, str) else "not text"
    if fault is not None:
        log.error("wechat %s: unusable %s (%s), nothing stored", source, name, fault)
        raise ApiError(WECHAT_BAD_RESPONSE)
    return str(value)


@dataclass(frozen=True)
class Attempt:
    """What one request to WeChat came to, for a caller that must not send twice.

    `errcode` is WeChat's answer (0: done), or None when there was no usable
    answer; `maybe_delivered` is False only when that much is proven: WeChat
    answered with an error, or the request never left.
    """

    errcode: int | None
    maybe_delivered: bool
    reason: str


def _never_connected(error: requests.ConnectionError) -> bool:
    """A refused or unresolved connection: the request was never sent. Anything else
    (a connection reset or closed mid-answer) may have delivered it."""
    cause = error.args[0] if error.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


class _Unavailable(Exception):
    """No usable answer: busy, timed out, or unreachable. Worth one more try."""


class WeChatClient:
    def __init__(self, config: Config) -> None:
        self.base = config.wx_api_base
        self.cloud = config.wx_openapi_mode == "cloud"
        self.appid = config.wx_appid
        self._secret = config.wx_secret
        self.timeout = (config.wx_connect_timeout, config.wx_read_timeout)
        self.http = requests.Session()
        self.http.verify = True
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()

    # -- transport

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.http.request(
                method, f"{self.base}{path}", timeout=self.timeout, **kwargs
            )
        except (requests.Timeout, requests.ConnectionError) as error:
            raise _Unavailable(type(error).__name__) from None
        if response.status_code >= 500:
            raise _Unavailable(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise _Unavailable(f"HTTP {response.status_code}, not JSON") from None
        if not isinstance(body, dict):
            raise _Unavailable("not a JSON object")
        if body.get("errcode") == BUSY:
            raise _Unavailable("errcode -1 (system busy)")
        return body

    def _call_with_retry(
        self, what: str, method: str, path: str, **kwargs: Any
    ) -> tuple[dict[str, Any], bool]:
        """The answer, and whether it took a retry; 502 wechat_unavailable after two failures."""
        for attempt in (1, 2):
            try:
                return self._call(method, path, **kwargs), attempt > 1
            except _Unavailable as reason:
                log.warning("wechat %s unavailable (%s), attempt %d of 2", what, reason, attempt)
        raise ApiError(WECHAT_UNAVAILABLE)

    # -- code2Session

    def code2session(self, code: str) -> WxSession:
        """Needs WX_SECRET in both modes: cloud call does not cover jscode2session."""
        if not self._secret:
            log.error("wechat code2session needs WX_SECRET, which is not set")
            raise ApiError(WECHAT_SECRET_MISSING)
        params = {
            "appid": self.appid,
            "secret": self._secret,
            "js_code": code,
            "grant_type": "authorization_code",
        }
        body, retried = self._call_with_retry(
            "code2session", "GET", "/sns/jscode2session", params=params
        )
        errcode = body.get("errcode") or 0
        if errcode == CODE_USED and retried:
            # Our own first attempt may have reached WeChat and used the code:
            # the client's code was fine, WeChat was not.
            raise ApiError(WECHAT_UNAVAILABLE)
        if errcode in ERRCODE_KINDS:
            raise ApiError(ERRCODE_KINDS[errcode])
        openid, session_key = body.get("openid"), body.get("session_key")
        if errcode or not isinstance(openid, str) or not isinstance(session_key, str):
            log.error("wechat code2session failed: errcode %s", errcode)
            raise ApiError(WECHAT_ERROR)
        openid = storable("code2session", "openid", openid, User.openid.max_length)
        unionid = body.get("unionid")  # only for apps bound to an Open Platform account
        if unionid is not None and unionid != "":
            unionid = storable("code2session", "unionid", unionid, User.unionid.max_length)
        log.info("wechat code2session ok for %s", mask(openid))
        return WxSession(openid, session_key, unionid or None)

    # -- access token (stable_token: does not invalidate other instances' tokens)

    def access_token(self) -> str:
        if self._token and time.monotonic() < self._token_expires:
            return self._token
        with self._token_lock:
            if self._token and time.monotonic() < self._token_expires:
                return self._token  # another thread refreshed it meanwhile
            body, _ = self._call_with_retry(
                "stable_token",
                "POST",
                "/cgi-bin/stable_token",
                json={
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self._secret,
                    "force_refresh": False,
                },
            )
            token, expires_in = body.get("access_token"), body.get("expires_in")
            if not isinstance(token, str) or not isinstance(expires_in, int):
                log.error("wechat stable_token failed: errcode %s", body.get("errcode"))
                raise ApiError(WECHAT_ERROR)
            self._token = token
            self._token_expires = time.monotonic() + max(expires_in - TOKEN_MARGIN_SECONDS, 0)
            return token

    def _forget_token(self, token: str) -> None:
        with self._token_lock:
            if self._token == token:
                self._token = None

    # -- phone number

    def call_with_token(self, what: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST an API that needs the access token, in the configured mode.

        token: ours from stable_token, retried once with a fresh one if WeChat
        says it went stale. cloud (开放接口服务): none at all, over Cloud Run's
        relay, which adds it; stable_token is never called and WX_SECRET is not needed.
        """
        if self.cloud:
            body, _ = self._call_with_retry(what, "POST", path, json=payload)
            return body
        for attempt in (1, 2):
            token = self.access_token()
            body, _ = self._call_with_retry(
                what, "POST", path, params={"access_token": token}, json=payload
            )
            if (body.get("errcode") or 0) in ACCESS_TOKEN_INVALID and attempt == 1:
                self._forget_token(token)  # revoked or expired early: fetch a new one once
                continue
            break
        return body

    def send_token(self) -> str | None:
        """The access token a send needs: None in cloud mode, where the platform adds it.

        Raises ApiError when none can be had; nothing has been sent then.
        """
        return None if self.cloud else self.access_token()

    def post_once(self, path: str, payload: dict[str, Any], token: str | None) -> Attempt:
        """POST once, never retried here: the caller decides, knowing what the failure proves.

        A stale access token (40001 and the like) is forgotten, so that the
        caller's next attempt fetches a new one.
        """
        params = {} if token is None else {"access_token": token}
        try:
            response = self.http.post(
                f"{self.base}{path}", params=params, json=payload, timeout=self.timeout
            )
        except requests.ConnectTimeout:
            return Attempt(None, maybe_delivered=False, reason="connect_timeout")
        except requests.ConnectionError as error:
            if _never_connected(error):
                return Attempt(None, maybe_delivered=False, reason="unreachable")
            return Attempt(None, maybe_delivered=True, reason="connection_lost")
        except requests.RequestException:  # a read timeout above all: it may have arrived
            return Attempt(None, maybe_delivered=True, reason="no_answer")
        try:
            body = response.json()
        except ValueError:
            body = None
        errcode = body.get("errcode", 0) if isinstance(body, dict) else None
        if response.status_code >= 500 or not isinstance(errcode, int) or isinstance(errcode, bool):
            return Attempt(None, maybe_delivered=True, reason=f"http_{response.status_code}")
        if token is not None and errcode in ACCESS_TOKEN_INVALID:
            self._forget_token(token)
        done = errcode == 0
        return Attempt(errcode, maybe_delivered=done, reason="ok" if done else "errcode")

    def phone_number(self, code: str) -> PhoneNumber:
        body = self.call_with_token(
            "getuserphonenumber", "/wxa/business/getuserphonenumber", {"code": code}
        )
        errcode = body.get("errcode") or 0
        if errcode in ERRCODE_KINDS:
            raise ApiError(ERRCODE_KINDS[errcode])
        info = body.get("phone_info")
        if errcode or not isinstance(info, dict) or not isinstance(info.get("phoneNumber"), str):
            log.error("wechat getuserphonenumber failed: errcode %s", errcode)
            raise ApiError(WECHAT_ERROR)
        # Only phoneNumber is stored; the other two are parts of it, answered to the client.
        limit = User.phone_number.max_length
        number = storable("getuserphonenumber", "phoneNumber", info["phoneNumber"], limit)
        pure = info.get("purePhoneNumber") or number
        country = info.get("countryCode")
        return PhoneNumber(
            phone_number=number,
            pure_phone_number=storable("getuserphonenumber", "purePhoneNumber", pure, limit),
            country_code=""
            if country in (None, "")
            else storable("getuserphonenumber", "countryCode", str(country), limit),
        )


def client() -> WeChatClient:
    """The app's client: one per process, so its access-token cache is shared."""
    wechat: WeChatClient = current_app.extensions["wechat"]
    return wechat

"""A fake WeChat API: a real HTTP server on 127.0.0.1 that speaks the real protocol.

It implements the endpoints the service calls, with their request and
response shapes: `GET /sns/jscode2session`, `POST /cgi-bin/stable_token`,
`POST /wxa/business/getuserphonenumber`, `POST /cgi-bin/message/custom/send`
and `POST /cgi-bin/message/subscribe/send`. Tests script it through Python:
register login codes (each works once), phone codes, subscriptions, and misbehaviour.

Subscribe messages follow WeChat's rules: each `accept` the user gave
(`subscribe`) allows one delivery of that template to that user, spent only by
a delivery; with none left the answer is 43101. A keyword value that breaks
its type's rule (`thing` over 20 characters, `phrase` not 1 to 5 Chinese
characters...) is 47003, and nothing is delivered or spent.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

APPID = "wx-fake-appid"
SECRET = "fake-wx-secret-value"


SUBSCRIBE_SEND = "/cgi-bin/message/subscribe/send"
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CLOCK = r"\d{1,2}:\d{2}"
_DAY = r"(\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2})"
#: WeChat's table of keyword rules (订阅消息参数值内容限制说明), as patterns of whole values.
KEYWORD_RULES = {
    "thing": re.compile(r"[^\x00-\x1f\x7f]{1,20}"),
    "phrase": re.compile(f"[{_HAN}]{{1,5}}"),
    "number": re.compile(r"(?=.{1,32}$)\d+(\.\d+)?"),
    "letter": re.compile(r"[A-Za-z]{1,32}"),
    "symbol": re.compile(r"[!-/:-@\[-`{-~]{1,5}"),
    "character_string": re.compile(r"[!-~]{1,32}"),
    "time": re.compile(f"({_DAY} )?{_CLOCK}(~({_DAY} )?{_CLOCK})?"),
    "date": re.compile(f"{_DAY}( {_CLOCK})?(~{_DAY}( {_CLOCK})?)?"),
    "amount": re.compile(r"[¥￥$€£]?\d{1,10}(\.\d+)?元?"),
    "phone_number": re.compile(r"[0-9+\-()]{1,17}"),
    "car_number": re.compile(f"(?=.{{1,8}}$)[{_HAN}]?[A-Z0-9]+[{_HAN}]?"),
}


def keyword_refusal(data: object) -> str | None:
    """The keyword WeChat would name in 47003 (`data.thing2.value`), or None."""
    if not isinstance(data, dict) or not data:
        return "data"
    for keyword, entry in data.items():
        kind = re.sub(r"\d+$", "", str(keyword))
        value = entry.get("value") if isinstance(entry, dict) else None
        if kind == "name":
            ok = isinstance(value, str) and (
                re.fullmatch(f"[{_HAN}A-Za-z·. -]{{1,10}}", value) is not None
                or re.fullmatch(r"[A-Za-z·. -]{1,20}", value) is not None
            )
        else:
            rule = KEYWORD_RULES.get(kind)
            ok = rule is not None and isinstance(value, str) and rule.fullmatch(value) is not None
        if not ok:
            return f"data.{keyword}.value"
    return None


@dataclass
class LoginCode:
    openid: str
    unionid: str | None = None
    errcode: int | None = None  # answer with this error instead (45011, 40226, -1, ...)
    stall: float = 0.0  # seconds to wait before answering
    stall_once: bool = False  # only the first answer is late (the code is used all the same)


class FakeWeChat:
    def __init__(
        self,
        appid: str = APPID,
        secret: str = SECRET,
        token_ttl: int = 7200,
        host: str = "127.0.0.1",
    ) -> None:
        """`host` is where it listens: 0.0.0.0 lets a container reach it through the gateway."""
        self.appid = appid
        self.secret = secret
        self.token_ttl = token_ttl
        self._codes: dict[str, LoginCode] = {}
        self._used: set[str] = set()
        self._phones: dict[str, str] = {}
        self._tokens: dict[str, float] = {}  # access token -> expiry (monotonic)
        self.calls: Counter[str] = Counter()
        #: 开放接口服务 (cloud call): the platform adds the token, so a request must carry none.
        self.cloud_mode = False
        self.saw_access_token = 0
        self.issued_session_keys: list[str] = []
        self.sent_messages: list[dict[str, Any]] = []  # what cgi-bin/message/custom/send got
        #: (openid, template id) -> deliveries the user allowed and WeChat has not made yet
        self._subscriptions: Counter[tuple[str, str]] = Counter()
        self.delivered: list[dict[str, Any]] = []  # subscribe messages delivered, in order
        self._subscribe_errcodes: list[int] = []  # answers given instead (see `fail_subscribe`)
        #: path -> the waits the next requests make before they are handled (see `stall`)
        self._stalls: dict[str, list[float]] = {}
        self._released: dict[str, threading.Event] = {}
        self.stalling: Counter[str] = Counter()  # requests waiting in a stall now, per path
        #: path -> answers given instead of WeChat's, oldest first (see `interpose`)
        self._interposed: dict[str, list[tuple[int, str, bytes]]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """Where this machine's processes reach it (always over loopback)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    # -- scripting

    def login_code(
        self,
        openid: str | None = None,
        *,
        unionid: str | None = None,
        errcode: int | None = None,
        stall: float = 0.0,
        stall_once: bool = False,
    ) -> str:
        """A fresh code, as wx.login() would hand one to the mini program."""
        code = f"code-{secrets.token_hex(8)}"
        openid = openid or f"o{secrets.token_urlsafe(20)[:27]}"
        with self._lock:
            self._codes[code] = LoginCode(openid, unionid, errcode, stall, stall_once)
        return code

    def phone_code(self, phone_number: str) -> str:
        code = f"phone-{secrets.token_hex(8)}"
        with self._lock:
            self._phones[code] = phone_number
        return code

    def subscribe(self, openid: str, template_id: str, times: int = 1) -> None:
        """The user tapped `accept` for `template_id` `times` times (wx.requestSubscribeMessage)."""
        with self._lock:
            self._subscriptions[(openid, template_id)] += times

    def subscriptions_left(self, openid: str, template_id: str) -> int:
        with self._lock:
            return self._subscriptions[(openid, template_id)]

    def fail_subscribe(self, *errcodes: int) -> None:
        """The next subscribe/send requests are answered with these errcodes, one each
        (-1 busy, 45009 limit...), before WeChat looks at them: nothing is delivered."""
        with self._lock:
            self._subscribe_errcodes.extend(errcodes)

    def stall(self, path: str, seconds: float, times: int = 1) -> None:
        """The next `times` requests to `path` wait `seconds` before WeChat handles them,
        or until `release(path)`; `stalling[path]` counts the ones waiting."""
        with self._lock:
            self._stalls.setdefault(path, []).extend([seconds] * times)
            self._released.setdefault(path, threading.Event()).clear()

    def release(self, path: str) -> None:
        with self._lock:
            self._stalls.pop(path, None)
            event = self._released.get(path)
        if event is not None:
            event.set()

    def _wait_if_stalled(self, path: str) -> None:
        with self._lock:
            queued = self._stalls.get(path)
            seconds = queued.pop(0) if queued else 0.0
            event = self._released.get(path)
            if seconds:
                self.stalling[path] += 1
        if not seconds or event is None:
            return
        try:
            event.wait(seconds)
        finally:
            with self._lock:
                self.stalling[path] -= 1

    def interpose(
        self,
        path: str,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = "application/json",
        times: int = 1,
    ) -> None:
        """The next `times` requests to `path` get this answer instead of WeChat's.

        What a proxy or gateway between the service and WeChat can send: an
        HTML error page, a 5xx, a body WeChat itself never sends.
        """
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._interposed.setdefault(path, []).extend([(status, content_type, data)] * times)

    def reset(self) -> None:
        """Forget every code, token and count, for the next test."""
        with self._lock:
            self._codes.clear()
            self._used.clear()
            self._phones.clear()
            self._tokens.clear()
            self.calls.clear()
            self.issued_session_keys.clear()
            self.sent_messages.clear()
            self._interposed.clear()
            self._subscriptions.clear()
            self.delivered.clear()
            self._subscribe_errcodes.clear()
            self._stalls.clear()
            released = list(self._released.values())
            self._released.clear()
            self.cloud_mode = False
            self.saw_access_token = 0
        for event in released:  # requests still stalled from a test that ended
            event.set()

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    # -- protocol

    def _jscode2session(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("appid") != self.appid:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if query.get("secret") != self.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if query.get("grant_type") != "authorization_code":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        code = query.get("js_code", "")
        with self._lock:
            entry = self._codes.get(code)
            stall = 0.0
            if entry is not None and not (entry.stall_once and code in self._used):
                stall = entry.stall
        reply = self._session_for(code, entry)
        time.sleep(stall)  # WeChat has used the code already; only its answer is late
        return reply

    def _session_for(self, code: str, entry: LoginCode | None) -> dict[str, Any]:
        with self._lock:
            if entry is None:
                return {"errcode": 40029, "errmsg": "invalid code"}
            if entry.errcode is not None:
                return {"errcode": entry.errcode, "errmsg": "scripted error"}
            if code in self._used:
                return {"errcode": 40163, "errmsg": "code been used"}
            self._used.add(code)
            reply = {"openid": entry.openid, "session_key": secrets.token_urlsafe(16)}
            self.issued_session_keys.append(reply["session_key"])
        if entry.unionid:
            reply["unionid"] = entry.unionid
        return reply

    def _stable_token(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if body.get("appid") != self.appid or body.get("secret") != self.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        token = f"token-{secrets.token_hex(16)}"
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl
        return {"access_token": token, "expires_in": self.token_ttl}

    def _cloud_refusal(self, query: dict[str, str]) -> dict[str, Any] | None:
        """In cloud mode a request that brings its own access_token is refused, as relayed."""
        if "access_token" in query:
            with self._lock:
                self.saw_access_token += 1
            return {"errcode": 41001, "errmsg": "cloud call: access_token must not be sent"}
        return None

    def _custom_send(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if not self.cloud_mode:
                expiry = self._tokens.get(query.get("access_token", ""))
                if expiry is None or expiry < time.monotonic():
                    return {"errcode": 40001, "errmsg": "invalid credential"}
            if not body.get("touser") or body.get("msgtype") != "text":
                return {"errcode": 40003, "errmsg": "invalid openid or msgtype"}
            self.sent_messages.append(body)
        return {"errcode": 0, "errmsg": "ok"}

    def _subscribe_send(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._subscribe_errcodes:
                return {"errcode": self._subscribe_errcodes.pop(0), "errmsg": "scripted error"}
            if not self.cloud_mode:
                expiry = self._tokens.get(query.get("access_token", ""))
                if expiry is None or expiry < time.monotonic():
                    return {"errcode": 40001, "errmsg": "invalid credential"}
            openid, template_id = body.get("touser"), body.get("template_id")
            if not isinstance(openid, str) or not openid:
                return {"errcode": 40003, "errmsg": "invalid openid"}
            if not isinstance(template_id, str) or not template_id:
                return {"errcode": 40037, "errmsg": "invalid template_id"}
            refusal = keyword_refusal(body.get("data"))
            if refusal is not None:
                return {"errcode": 47003, "errmsg": f"argument invalid! {refusal} invalid"}
            if self._subscriptions[(openid, template_id)] <= 0:
                return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
            self._subscriptions[(openid, template_id)] -= 1
            self.delivered.append(body)
        return {"errcode": 0, "errmsg": "ok"}

    def _phone_number(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if not self.cloud_mode:
                expiry = self._tokens.get(query.get("access_token", ""))
                if expiry is None or expiry < time.monotonic():
                    return {
                        "errcode": 40001,
                        "errmsg": "invalid credential, access_token is invalid",
                    }
            number = self._phones.pop(str(body.get("code", "")), None)
        if number is None:
            return {"errcode": 40029, "errmsg": "invalid code"}
        return {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": number,
                "purePhoneNumber": number.removeprefix("+86"),
                "countryCode": "86",
                "watermark": {"timestamp": int(time.time()), "appid": self.appid},
            },
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as WeChat's servers do: the client's pool reuses one
            # connection rather than opening one (and this server a thread) per call.
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes: without TCP_NODELAY the body
            # waits for the client's delayed ACK (40 ms) on a kept-alive connection.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, content_type: str, data: bytes, **headers: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with suppress(ConnectionError):  # a client that timed out has gone
                    self.wfile.write(data)

            def _reply(self, payload: dict[str, Any]) -> None:
                # The platform's relay marks what it passed on.
                relayed = {"x-openapi-seqid": secrets.token_hex(8)} if fake.cloud_mode else {}
                # WeChat reports errors in the body, with HTTP 200.
                data = json.dumps(payload).encode()
                self._send(200, "application/json; encoding=utf-8", data, **relayed)

            def _route(self) -> tuple[str, dict[str, str]]:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                fake.calls[parts.path] += 1
                return parts.path, query

            def _interposed(self, path: str) -> bool:
                """Answer as `interpose` said, if it said anything for this path."""
                with fake._lock:
                    queued = fake._interposed.get(path)
                    answer = queued.pop(0) if queued else None
                if answer is None:
                    return False
                self._send(*answer)
                return True

            def do_GET(self) -> None:
                path, query = self._route()
                if self._interposed(path):
                    return
                if path == "/sns/jscode2session":
                    self._reply(fake._jscode2session(query))
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                path, query = self._route()
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                if self._interposed(path):  # before the relay: WeChat never saw it
                    return
                fake._wait_if_stalled(path)
                refusal = fake._cloud_refusal(query) if fake.cloud_mode else None
                if refusal is not None:
                    self._reply(refusal)
                elif path == "/cgi-bin/stable_token":
                    self._reply(fake._stable_token(body))
                elif path == "/wxa/business/getuserphonenumber":
                    self._reply(fake._phone_number(query, body))
                elif path == "/cgi-bin/message/custom/send":
                    self._reply(fake._custom_send(query, body))
                elif path == SUBSCRIBE_SEND:
                    self._reply(fake._subscribe_send(query, body))
                else:
                    self.send_error(404)

        return Handler

    # -- lifecycle

    def start(self) -> FakeWeChat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> FakeWeChat:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

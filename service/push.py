"""消息推送: customer-service messages and events that Cloud Run pushes to the container.

The platform POSTs JSON to WX_PUSH_PATH (default /wx/push) and retries on
anything but HTTP 200, possibly sending one message several times: each is
stored once, by MsgId. The answer is always the plain text `success`, also for
a body that does not parse (logged: a retry would not fix it). Mini programs
cannot reply in the response; a text `help`/`帮助` is answered through the
customer-service API, after the response, without holding it up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Any

from flask import Flask, Response, current_app, request

from service import payload, wechat
from service.config import Config
from service.logs import mask
from service.models import PushMessage

log = logging.getLogger(__name__)

SOURCE_HEADER = "X-WX-SOURCE"
HELP_WORDS = {"help", "帮助"}
HELP_REPLY = "你好！发送任意文字留言，我们会尽快回复。"


def _text(response: str, status: int = 200) -> Response:
    return Response(response, status=status, mimetype="text/plain")


def _field(body: dict[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None or isinstance(value, dict | list):
        return None
    # A lone surrogate ("\\ud800") parses but cannot be stored: replaced, not a 500.
    return str(value).encode("utf-8", "replace").decode("utf-8")[:limit]


def _storable_key(key: str) -> bool:
    """Whether the dedupe column tells `key` from every other key, as SQLite does.

    It holds 128 characters of UTF-8, and MySQL's utf8mb4_bin ignores trailing
    spaces when it compares (`subscribe` and `subscribe ` would be one event).
    """
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, sent as JSON's \ud800 escape
        return False
    return len(key) <= PushMessage.dedupe_key.max_length and not key.endswith(" ")


def dedupe_key(body: dict[str, Any]) -> str:
    """MsgId when there is one; for events, sender, time and event; else the body itself.

    A key its column cannot keep exactly, or tell apart on MySQL, is the body's
    digest instead: cut short, with a character replaced, or compared without its
    trailing spaces, two messages would share it and one be lost.
    """
    key = None
    if body.get("MsgId") not in (None, ""):
        key = f"msg:{body['MsgId']}"
    elif body.get("FromUserName") and body.get("CreateTime"):
        key = f"evt:{body['FromUserName']}:{body['CreateTime']}:{body.get('Event', '')}"
    if key is not None and _storable_key(key):
        return key
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return "body:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def store(body: dict[str, Any], raw: str) -> bool:
    """Keep the message; False when it was here already (the platform's repeat)."""
    create_time = body.get("CreateTime")
    inserted = (
        PushMessage.insert(
            dedupe_key=dedupe_key(body),
            msg_id=_field(body, "MsgId", 64),
            to_user=_field(body, "ToUserName", 64),
            from_user=_field(body, "FromUserName", 64),
            create_time=create_time
            if isinstance(create_time, int)
            and not isinstance(create_time, bool)
            and 0 <= create_time < 2**62
            else None,
            msg_type=_field(body, "MsgType", 32),
            event=_field(body, "Event", 64),
            content=_field(body, "Content", 65535 // 4),
            payload=raw,
        )
        .on_conflict_ignore()
        .execute()
    )
    return bool(inserted)


def _reply_later(client: wechat.WeChatClient, openid: str) -> None:
    """Send the help text on a thread of its own: the platform's request is answered first."""

    def send() -> None:
        try:
            body = client.call_with_token(
                "custom_send",
                "/cgi-bin/message/custom/send",
                {"touser": openid, "msgtype": "text", "text": {"content": HELP_REPLY}},
            )
            if body.get("errcode"):
                log.error("help reply to %s refused: errcode %s", mask(openid), body["errcode"])
        except Exception as error:  # logged, never raised: nobody is waiting for it
            log.error("help reply to %s failed: %s", mask(openid), type(error).__name__)

    threading.Thread(target=send, name="push-reply", daemon=True).start()


def receive() -> Response:
    settings: Config = current_app.config["SERVICE"]
    if not settings.wx_push_trust_all and not request.headers.get(SOURCE_HEADER, "").strip():
        log.warning(
            "push refused: no %s header (set WX_PUSH_TRUST_ALL=true if public access is off)",
            SOURCE_HEADER,
        )
        return _text("forbidden", 403)
    raw_bytes = payload.body_bytes(cache=False)
    try:
        raw = raw_bytes.decode("utf-8")
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        log.warning(
            "push body is not JSON (%d bytes): answered success, not stored", len(raw_bytes)
        )
        return _text("success")
    if not isinstance(body, dict):
        log.warning("push body is JSON but not an object: answered success, not stored")
        return _text("success")
    if body.get("action") == "CheckContainerPath":
        log.info("push path checked by the console")
        return _text("success")
    if not store(body, raw):
        return _text("success")  # a repeat: stored the first time
    sender = body.get("FromUserName")
    content = body.get("Content")
    if (
        body.get("MsgType") == "text"
        and isinstance(content, str)
        and content.strip().lower() in HELP_WORDS
        and isinstance(sender, str)
        and sender
    ):
        _reply_later(wechat.client(), sender)
    return _text("success")


def init_app(app: Flask, config: Config) -> None:
    app.add_url_rule(config.wx_push_path, "push.receive", receive, methods=["POST"])

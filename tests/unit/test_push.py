"""消息推送: the receiver Cloud Run pushes messages to (rerun on MySQL).

The console's path check, exactly-once storage under the platform's repeats,
`success` for anything that does not parse, the X-WX-SOURCE rule, the help
reply through the customer-service API, and the admin list.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.config import Config, ConfigError
from service.models import PushMessage
from tests.support.apps import AppFactory
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import SignedIn, bearer, login

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration

FROM_WECHAT = {"X-WX-SOURCE": "wx_push"}


def push(client: FlaskClient, body: Any, path: str = "/wx/push", **headers: str) -> Any:
    kwargs: dict[str, Any] = {"data": body} if isinstance(body, bytes | str) else {"json": body}
    return client.post(path, headers={**FROM_WECHAT, **headers}, **kwargs)


def message(msg_id: int, content: str = "你好", sender: str = "oSender") -> dict[str, Any]:
    return {
        "ToUserName": "gh_service",
        "FromUserName": sender,
        "CreateTime": 1764633600 + msg_id,
        "MsgType": "text",
        "Content": content,
        "MsgId": 24000000000000000 + msg_id,
    }


def test_the_consoles_path_check_gets_success(client: FlaskClient) -> None:
    response = push(client, {"action": "CheckContainerPath"})
    assert response.status_code == 200
    assert response.get_data() == b"success"
    assert response.mimetype == "text/plain"
    assert PushMessage.select().count() == 0


def test_a_message_is_stored_with_its_fields(client: FlaskClient) -> None:
    response = push(client, message(1, "想咨询一下"))
    assert (response.status_code, response.get_data()) == (200, b"success")
    (row,) = PushMessage.select()
    assert (row.msg_id, row.from_user, row.to_user, row.msg_type, row.content) == (
        "24000000000000001",
        "oSender",
        "gh_service",
        "text",
        "想咨询一下",
    )
    assert row.create_time == 1764633601
    assert '"MsgId"' in row.payload


def test_an_event_without_msgid_is_stored_once_by_sender_and_time(client: FlaskClient) -> None:
    event = {
        "ToUserName": "gh_service",
        "FromUserName": "oSender",
        "CreateTime": 1764633700,
        "MsgType": "event",
        "Event": "user_enter_tempsession",
        "SessionFrom": "index",
    }
    for _ in range(3):
        assert push(client, event).get_data() == b"success"
    (row,) = PushMessage.select()
    assert (row.msg_type, row.event, row.msg_id) == ("event", "user_enter_tempsession", None)


def test_20_concurrent_repeats_of_one_msgid_store_one_row(shared_app: Flask) -> None:
    barrier = threading.Barrier(20)
    answers: list[tuple[int, bytes]] = []

    def send() -> None:
        own = shared_app.test_client()
        barrier.wait()
        response = push(own, message(7))
        answers.append((response.status_code, response.get_data()))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [(200, b"success")] * 20
    with shared_app.app_context():
        assert PushMessage.select().where(PushMessage.msg_id == "24000000000000007").count() == 1


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"\xff\xfe\x00", b"[1, 2]", b'"text"', b"{" * 50_000, b'{"a": NaN'],
    ids=["empty", "text", "invalid UTF-8", "array", "string", "deep", "broken"],
)
def test_garbage_is_logged_and_answered_success(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, raw: bytes
) -> None:
    response = push(client, raw, **{"Content-Type": "application/json"})
    assert (response.status_code, response.get_data()) == (200, b"success")
    assert PushMessage.select().count() == 0
    assert any("push body" in r.getMessage() for r in caplog.records)


def test_odd_values_are_stored_rather_than_refused(client: FlaskClient) -> None:
    odd = {**message(9), "Content": "\ud800 bad", "FromUserName": "o" * 500, "CreateTime": "x"}
    raw = json.dumps(odd)  # ASCII, with the surrogate as the escape \\ud800
    assert push(client, raw, **{"Content-Type": "application/json"}).get_data() == b"success"
    (row,) = PushMessage.select()
    assert row.content == "? bad"
    assert len(row.from_user) == 64
    assert row.create_time is None


def test_a_body_with_neither_msgid_nor_sender_is_known_by_its_content(client: FlaskClient) -> None:
    """Repeats of one such body are stored once; another body is another row."""
    bodies = [{"MsgType": "event", "Event": "debug_demo", "n": n} for n in (1, 1, 2, 1)]
    for body in bodies:
        assert push(client, body).get_data() == b"success"
    keys = [row.dedupe_key for row in PushMessage.select().order_by(PushMessage.id)]
    assert len(keys) == 2
    assert all(key.startswith("body:") and len(key) == len("body:") + 64 for key in keys)


def test_without_x_wx_source_a_push_is_refused(client: FlaskClient) -> None:
    response = client.post("/wx/push", json=message(3))
    assert response.status_code == 403
    assert PushMessage.select().count() == 0


def test_trust_all_accepts_pushes_without_x_wx_source(make_app: AppFactory) -> None:
    client = make_app(wx_push_trust_all=True, wx_push_path="/hooks/wechat").test_client()
    assert client.post("/hooks/wechat", json=message(4)).get_data() == b"success"
    assert client.post("/wx/push", json=message(5)).status_code == 404  # moved
    assert PushMessage.select().count() == 1


@pytest.mark.parametrize("path", ["wx/push", "/api/push", "/wx/<x>", ""])
def test_wx_push_path_must_be_a_plain_path_outside_api(path: str) -> None:
    if path == "":
        assert Config.from_env({"WX_PUSH_PATH": path}).wx_push_path == "/wx/push"
        return
    with pytest.raises(ConfigError, match="WX_PUSH_PATH"):
        Config.from_env({"WX_PUSH_PATH": path})


def replies_finished(timeout: float = 5.0) -> None:
    """Wait for every help reply the service started: one not sent by then is never sent."""
    for thread in threading.enumerate():
        if thread.name == "push-reply":
            thread.join(timeout)


@pytest.mark.parametrize("mode", ["token", "cloud"])
@pytest.mark.parametrize("word", ["help", " HELP ", "帮助"])
def test_help_gets_a_customer_service_reply(
    make_app: AppFactory, fake_wechat: FakeWeChat, mode: str, word: str
) -> None:
    fake_wechat.cloud_mode = mode == "cloud"
    client = make_app(wx_openapi_mode=mode).test_client()
    assert push(client, message(11, word, sender="oAsker")).get_data() == b"success"
    replies_finished()
    (sent,) = fake_wechat.sent_messages
    assert sent["touser"] == "oAsker"
    assert sent["msgtype"] == "text"
    assert sent["text"]["content"]
    assert fake_wechat.saw_access_token == 0
    # The platform's repeat is not answered twice.
    push(client, message(11, word, sender="oAsker"))
    replies_finished()
    assert len(fake_wechat.sent_messages) == 1


def test_other_text_gets_no_reply(client: FlaskClient, fake_wechat: FakeWeChat) -> None:
    push(client, message(12, "helpful tips"))
    replies_finished()
    assert fake_wechat.sent_messages == []


def test_a_failed_reply_is_logged_and_the_push_still_succeeds(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(wx_api_base="http://127.0.0.1:9", wx_connect_timeout=0.2)
    assert push(app.test_client(), message(13, "help")).get_data() == b"success"
    replies_finished()
    assert any("help reply" in r.getMessage() for r in caplog.records)
    assert PushMessage.select().count() == 1


def test_admins_list_pushed_messages_newest_first(
    client: FlaskClient, fake_wechat: FakeWeChat, admin: SignedIn
) -> None:
    for n in range(1, 4):
        push(client, message(n, f"第{n}条"))
    response = client.get("/api/admin/messages?size=2", headers=admin.headers)
    assert response.status_code == 200
    data = response.json["data"]
    assert (data["total"], data["page"], data["size"]) == (3, 1, 2)
    assert [item["content"] for item in data["items"]] == ["第3条", "第2条"]
    assert data["items"][0]["msg_id"] == "24000000000000003"
    member = login(client, fake_wechat, "oPushMember")
    refused = client.get("/api/admin/messages", headers=bearer(member["token"]))
    assert (refused.status_code, refused.json["error"]) == (403, "admin_required")

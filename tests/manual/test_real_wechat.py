"""Against the real WeChat API, with the credentials from .env.manual or the environment.

Run with `nox -s manual`. The service runs in-process on SQLite in memory;
only WeChat is real.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from flask import Flask

from service import create_app, db, migrations, outbox, subscriptions
from service.config import Config
from service.models import Notification, User, VerificationStatus, utcnow
from service.templates import VERIFICATION_RESULT, verification_result

pytestmark = pytest.mark.wechat


@pytest.fixture
def real_app() -> Iterator[Flask]:
    env = {**os.environ, "DATABASE_URL": "sqlite:///:memory:"}
    env.setdefault("TOKEN_SECRET", secrets.token_urlsafe(48))
    app = create_app(Config.from_env(env))
    migrations.upgrade()
    yield app
    db.dispose()


def test_an_invalid_code_is_refused_as_invalid_code(real_app: Flask) -> None:
    response = real_app.test_client().post(
        "/api/login", json={"code": f"not-a-real-code-{secrets.token_hex(4)}"}
    )
    assert response.status_code == 400, response.json
    assert response.json["error"] == "invalid_code"


def test_stable_token_is_issued_for_these_credentials(real_app: Flask) -> None:
    client = real_app.extensions["wechat"]
    token = client.access_token()
    assert token
    assert client.access_token() == token  # cached, not fetched again


@pytest.mark.skipif(
    not os.environ.get("TEST_LOGIN_CODE"),
    reason="TEST_LOGIN_CODE not set: get a fresh wx.login() code (valid 5 minutes, once)",
)
def test_a_real_login_returns_a_token_that_reads_the_caller(real_app: Flask) -> None:
    client = real_app.test_client()
    login = client.post("/api/login", json={"code": os.environ["TEST_LOGIN_CODE"]})
    assert login.status_code == 200, login.json
    token = login.json["data"]["token"]
    me = client.get("/api/user/profile", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json["data"]["id"] == login.json["data"]["user_id"]
    assert me.json["data"]["openid"]


@pytest.mark.skipif(
    not os.environ.get("WX_TEMPLATE_VERIFICATION_RESULT")
    or not os.environ.get("TEST_SUBSCRIBER_OPENID"),
    reason="WX_TEMPLATE_VERIFICATION_RESULT or TEST_SUBSCRIBER_OPENID not set: a template id "
    "from the console, and the openid of a user who accepted it in the mini program",
)
def test_one_real_subscribe_message_is_sent(real_app: Flask) -> None:
    """Spends one of that user's permissions: their phone shows the message."""
    with real_app.app_context():
        user = User.create(
            openid=os.environ["TEST_SUBSCRIBER_OPENID"],
            verification_status=int(VerificationStatus.APPROVED),
            review_note="来自 nox -s manual 的测试消息",
            reviewed_at=utcnow(),
        )
        template_id = real_app.config["SERVICE"].wx_template_verification_result
        subscriptions.grant(user.id, template_id)
        row_id = outbox.notify(VERIFICATION_RESULT, user.id, verification_result(user))
        counts = outbox.drain(real_app.extensions["wechat"], real_app.config["SERVICE"])
        row = Notification.get_by_id(row_id)
        assert row.status == "sent", (
            f"{counts}; errcode {row.last_errcode} ({row.last_error}): 43101 means the user "
            "has no permission left (accept once more), 47003 that the template's keywords "
            "are not those of service/templates.py"
        )

"""Subscribe-message permissions from the mini program: /api/user/subscriptions (rerun on MySQL)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.config import Config, ConfigError
from service.models import SubscribePermission
from tests.support.apps import AppFactory
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import SignedIn
from tests.support.outbox import TEMPLATE
from tests.support.rows import snapshot

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration

PATH = "/api/user/subscriptions"


@pytest.fixture
def templated(make_app: AppFactory) -> Flask:
    """The app with the verification-result template configured."""
    return make_app(wx_template_verification_result=TEMPLATE)


@pytest.fixture
def alice(templated: Flask, fake_wechat: FakeWeChat) -> SignedIn:
    return SignedIn(templated.test_client(), fake_wechat, "oSubscriber")


def remaining(user: SignedIn) -> dict[str, int]:
    status, body = user.call("GET", PATH)
    assert status == 200, body
    counts: dict[str, int] = body["data"]["remaining"]
    return counts


def test_each_accept_allows_one_send(alice: SignedIn) -> None:
    assert remaining(alice) == {TEMPLATE: 0}
    result = {"errMsg": "requestSubscribeMessage:ok", TEMPLATE: "accept"}
    for expected in (1, 2):
        status, body = alice.call("POST", PATH, json=result)
        assert status == 200, body
        assert body["data"] == {
            "recorded": [TEMPLATE],
            "ignored": [],
            "remaining": {TEMPLATE: expected},
        }
    assert remaining(alice) == {TEMPLATE: 2}


@pytest.mark.parametrize("answer", ["reject", "ban", "filter"])
def test_anything_but_accept_allows_nothing(alice: SignedIn, answer: str) -> None:
    status, body = alice.call("POST", PATH, json={TEMPLATE: answer})
    assert (status, body["data"]["recorded"], body["data"]["remaining"]) == (200, [], {TEMPLATE: 0})


def test_unknown_template_ids_are_ignored_and_reported(alice: SignedIn) -> None:
    status, body = alice.call(
        "POST", PATH, json={TEMPLATE: "accept", "tSomeoneElses": "accept", "tOld": "reject"}
    )
    assert status == 200
    assert body["data"]["recorded"] == [TEMPLATE]
    assert body["data"]["ignored"] == ["tOld", "tSomeoneElses"]
    assert SubscribePermission.select().count() == 1


def test_get_names_the_template_ids_to_ask_for(alice: SignedIn) -> None:
    status, body = alice.call("GET", PATH)
    assert status == 200
    assert body["data"] == {
        "remaining": {TEMPLATE: 0},
        "templates": {"verification_result": TEMPLATE},
    }


def test_permissions_are_each_users_own(
    alice: SignedIn, templated: Flask, fake_wechat: FakeWeChat
) -> None:
    bob = SignedIn(templated.test_client(), fake_wechat, "oOtherSubscriber")
    alice.call("POST", PATH, json={TEMPLATE: "accept"})
    assert remaining(bob) == {TEMPLATE: 0}
    assert remaining(alice) == {TEMPLATE: 1}


BAD_BODIES: list[tuple[Any, int, str]] = [
    ({}, 400, "missing_parameter"),
    ({"errMsg": "requestSubscribeMessage:fail cancel", "errCode": 20004}, 400, "missing_parameter"),
    ({TEMPLATE: True}, 400, "invalid_parameter"),
    ({TEMPLATE: "accepted"}, 400, "invalid_parameter"),
    ({TEMPLATE: "accept", "tOther": "ACCEPT"}, 400, "invalid_parameter"),
    ({TEMPLATE: None}, 400, "invalid_parameter"),
    ({TEMPLATE: {"status": "accept"}}, 400, "invalid_parameter"),
    ({TEMPLATE: "accept", "other": 1}, 400, "invalid_parameter"),
    ({f"t{n}": "accept" for n in range(21)}, 400, "invalid_parameter"),
    ([TEMPLATE], 400, "invalid_json"),
]


@pytest.mark.parametrize(("body", "status", "error"), BAD_BODIES)
def test_a_body_that_is_not_a_result_changes_nothing(
    alice: SignedIn, body: Any, status: int, error: str
) -> None:
    alice.call("POST", PATH, json={TEMPLATE: "accept"})
    before = snapshot()
    got, answer = alice.call("POST", PATH, json=body)
    assert (got, answer["error"]) == (status, error)
    assert snapshot() == before


def test_signed_in_only(client: FlaskClient) -> None:
    assert client.get(PATH).status_code == 401
    assert client.post(PATH, json={TEMPLATE: "accept"}).json["error"] == "token_missing"


def test_without_a_configured_template_every_id_is_ignored(
    client: FlaskClient, fake_wechat: FakeWeChat
) -> None:
    user = SignedIn(client, fake_wechat, "oNoTemplates")
    status, body = user.call("POST", PATH, json={TEMPLATE: "accept"})
    assert (status, body["data"]) == (200, {"recorded": [], "ignored": [TEMPLATE], "remaining": {}})
    assert SubscribePermission.select().count() == 0


@pytest.mark.parametrize("value", ["tmpl id", "x" * 65, "模板", "t;DROP"])
def test_a_template_id_setting_that_cannot_be_one_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="WX_TEMPLATE_VERIFICATION_RESULT must be a template id"):
        Config.from_env({"WX_TEMPLATE_VERIFICATION_RESULT": value})
    assert Config.from_env({"WX_TEMPLATE_VERIFICATION_RESULT": f" {TEMPLATE} "}) == Config(
        wx_template_verification_result=TEMPLATE
    )

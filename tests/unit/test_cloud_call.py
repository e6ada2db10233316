"""开放接口服务 (cloud call): WeChat APIs with no secret and no token.

Phone binding runs in both modes against the fake WeChat; in cloud mode the
fake refuses any request that brings its own `access_token`, as the relay
does, and marks its answers with `x-openapi-seqid`.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import requests
from flask import Flask

from service.config import CLOUD_WX_API_BASE, DEFAULT_WX_API_BASE, Config, ConfigError
from tests.support.apps import AppFactory
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import bearer, login


@pytest.fixture(params=["token", "cloud"])
def mode_app(
    request: pytest.FixtureRequest, make_app: AppFactory, fake_wechat: FakeWeChat
) -> tuple[str, Flask]:
    mode: str = request.param
    fake_wechat.cloud_mode = mode == "cloud"
    return mode, make_app(wx_openapi_mode=mode)


def test_phone_binding_in_both_modes(mode_app: tuple[str, Flask], fake_wechat: FakeWeChat) -> None:
    mode, app = mode_app
    client = app.test_client()
    token = login(client, fake_wechat, "oCloudPhone")["token"]
    for number in ("13800001111", "13800002222"):
        response = client.post(
            "/api/user/phone",
            json={"code": fake_wechat.phone_code(number)},
            headers=bearer(token),
        )
        assert response.status_code == 200, response.json
        assert response.json["data"]["phone_number"] == number
    assert fake_wechat.calls["/wxa/business/getuserphonenumber"] == 2
    if mode == "cloud":
        assert fake_wechat.calls["/cgi-bin/stable_token"] == 0
        assert fake_wechat.saw_access_token == 0
    else:
        assert fake_wechat.calls["/cgi-bin/stable_token"] == 1  # cached for the second


def test_cloud_mode_needs_no_secret_for_token_apis(
    config: Config, make_app: AppFactory, fake_wechat: FakeWeChat
) -> None:
    """WX_SECRET empty: the phone number still works; login by code says what is missing."""
    fake_wechat.cloud_mode = True
    settings = replace(config, wx_openapi_mode="cloud", wx_secret="")
    app = make_app(wx_openapi_mode="cloud", wx_secret="")
    client = app.test_client()
    code = fake_wechat.login_code("oNoSecret")
    refused = client.post("/api/login", json={"code": code})
    assert (refused.status_code, refused.json["error"]) == (503, "wechat_secret_missing")
    assert fake_wechat.calls["/sns/jscode2session"] == 0
    # Signed in another way (a token the service issued), the phone binds.
    with app.app_context():
        from service import sessions, users

        user, _ = users.find_or_create("oNoSecret")
        grant = sessions.start(settings, user)
    response = client.post(
        "/api/user/phone",
        json={"code": fake_wechat.phone_code("13900003333")},
        headers=bearer(grant.access_token),
    )
    assert response.status_code == 200, response.json
    assert fake_wechat.calls["/cgi-bin/stable_token"] == 0


def test_the_fake_refuses_a_token_in_cloud_mode(fake_wechat: FakeWeChat) -> None:
    """The fake is strict, so the cloud-mode tests above can fail."""
    fake_wechat.cloud_mode = True
    answer = requests.post(
        f"{fake_wechat.base_url}/wxa/business/getuserphonenumber?access_token=x",
        json={"code": fake_wechat.phone_code("13900004444")},
        timeout=5,
    )
    assert answer.json()["errcode"] == 41001
    assert answer.headers["x-openapi-seqid"]
    assert fake_wechat.saw_access_token == 1


@pytest.mark.parametrize(
    ("env", "mode", "base"),
    [
        ({}, "token", DEFAULT_WX_API_BASE),
        ({"WX_OPENAPI_MODE": "cloud"}, "cloud", CLOUD_WX_API_BASE),
        ({"WX_OPENAPI_MODE": "CLOUD", "WX_API_BASE": "http://fake:1/"}, "cloud", "http://fake:1"),
        ({"WX_OPENAPI_MODE": "token", "WX_API_BASE": ""}, "token", DEFAULT_WX_API_BASE),
    ],
)
def test_openapi_mode_and_its_default_base(env: dict[str, str], mode: str, base: str) -> None:
    config = Config.from_env(env)
    assert (config.wx_openapi_mode, config.wx_api_base) == (mode, base)


def test_an_unknown_openapi_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="WX_OPENAPI_MODE must be token or cloud"):
        Config.from_env({"WX_OPENAPI_MODE": "magic"})

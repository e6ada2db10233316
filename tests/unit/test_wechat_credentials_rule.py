"""When tests may call the real WeChat API."""

from __future__ import annotations

import pytest

from tests.support.wechat_credentials import missing_real_credentials


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({}, "WX_APPID and WX_SECRET not set"),
        ({"WX_APPID": "wx1"}, "WX_SECRET not set"),
        ({"WX_APPID": "wx-test", "WX_SECRET": "s"}, "WX_APPID contain 'test'"),
        ({"WX_APPID": "wx1", "WX_SECRET": "TestSecret"}, "WX_SECRET contain 'test'"),
    ],
)
def test_placeholder_credentials_are_refused(env: dict[str, str], reason: str) -> None:
    problem = missing_real_credentials(env)
    assert problem is not None
    assert problem.startswith(reason)


def test_real_looking_credentials_pass() -> None:
    assert missing_real_credentials({"WX_APPID": "wx8a1b", "WX_SECRET": "9f3e"}) is None


def test_override_accepts_values_that_look_like_tests() -> None:
    env = {"WX_APPID": "wxtest1", "WX_SECRET": "s", "USE_REAL_WECHAT_CREDENTIALS": "true"}
    assert missing_real_credentials(env) is None

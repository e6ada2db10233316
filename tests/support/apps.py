"""The apps the tests use: their settings, the types of the `make_app` and `seeded` fixtures
(tests/conftest.py), and the run's app for the tests that change nothing on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from flask import Flask

from service import create_app, db
from service.config import Config
from service.target import resolve_target
from service.wechat import WeChatClient
from tests.support.fake_wechat import FakeWeChat

#: The tests' token secret: 71 bytes, HS512-sized. Tests that forge tokens sign with it.
TEST_TOKEN_SECRET = "unit-test-token-secret-" + "0123456789abcdef" * 3

#: `make_app(migrated=True, **changes)`: the app on the test's config with those fields replaced.
AppFactory = Callable[..., Flask]

T = TypeVar("T")


class Seeded(Protocol):
    """`seeded(key, build)`: the database `build()` left, made once per run, and its result."""

    def __call__(self, key: str, build: Callable[[], T]) -> T: ...


def settings_for(database_url: str, wechat: FakeWeChat) -> Config:
    """The settings the tests' apps start from: their database, and WeChat is the fake."""
    return Config(
        database_url=database_url,
        token_secret=TEST_TOKEN_SECRET,
        wx_appid=wechat.appid,
        wx_secret=wechat.secret,
        wx_api_base=wechat.base_url,
        wx_read_timeout=1.0,
        testing=True,
    )


#: Apps kept for the run, one per configuration: building one compiles every URL rule (about
#: 7 ms), and most tests ask for the same settings. See `reused_app`.
_APPS: dict[Config, Flask] = {}

#: What create_app keeps on an app that a test can change; `reused_app` renews each.
RENEWED_EXTENSIONS = {"wechat", "readiness"}


def reused_app(settings: Config) -> Flask:
    """The run's app for `settings`, with what a test can change made new.

    Its routes, handlers and config are what create_app(settings) builds, and
    no test changes them (a test that adds a route asks `make_app` for an app of
    its own). What does change is made new here, as a new app would have it: the
    database (new and empty), the WeChat client (which keeps an access token) and
    the readiness probe.
    """
    app = _APPS.get(settings)
    if app is None:
        app = _APPS[settings] = create_app(settings)
    else:
        target = resolve_target(settings, app.instance_path)
        db.database.initialize(db.open_database(target, settings))
        app.extensions["wechat"] = WeChatClient(settings)
        app.extensions.pop("readiness", None)
    unknown = set(app.extensions) - RENEWED_EXTENSIONS
    assert not unknown, f"create_app keeps {unknown} on the app: renew it in reused_app"
    return app

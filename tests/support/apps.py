"""The apps the tests use: the types of the `make_app` and `seeded` fixtures (tests/conftest.py),
and the app shared by the tests that change nothing on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from flask import Flask

from service import create_app, db
from service.config import Config
from service.target import resolve_target
from service.wechat import WeChatClient

#: `make_app(migrated=True, **changes)`: the app on the test's config with those fields replaced.
AppFactory = Callable[..., Flask]

T = TypeVar("T")


class Seeded(Protocol):
    """`seeded(key, build)`: the database `build()` left, made once per run, and its result."""

    def __call__(self, key: str, build: Callable[[], T]) -> T: ...


#: Apps kept for the run, one per configuration: building one compiles every URL rule (about
#: 7 ms), and most tests ask for the same settings. See `shared_app`.
_SHARED_APPS: dict[Config, Flask] = {}

#: What create_app keeps on an app that a test can change; `shared_app` renews each.
RENEWED_EXTENSIONS = {"wechat", "readiness"}


def shared_app(settings: Config) -> Flask:
    """The run's app for `settings`, with what a test can change made new.

    Its routes, handlers and config are what create_app(settings) builds, and
    no test changes them (a test that adds a route asks `make_app` for an app of
    its own). What does change is made new here, as a new app would have it: the
    database (new and empty), the WeChat client (which keeps an access token) and
    the readiness probe.
    """
    app = _SHARED_APPS.get(settings)
    if app is None:
        app = _SHARED_APPS[settings] = create_app(settings)
    else:
        target = resolve_target(settings, app.instance_path)
        db.database.initialize(db.open_database(target, settings))
        app.extensions["wechat"] = WeChatClient(settings)
        app.extensions.pop("readiness", None)
    unknown = set(app.extensions) - RENEWED_EXTENSIONS
    assert not unknown, f"create_app keeps {unknown} on the app: renew it in shared_app"
    return app

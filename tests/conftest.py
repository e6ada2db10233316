"""The fixtures tests ask for: the app from the factory, its clients, its database, WeChat.

Each test's app has a database of its own holding the migrations' tables:
SQLite in memory, or the run's MySQL with `--db=mysql` (the plumbing is in
tests/plugins/databases.py). WeChat is the fake of tests/support/fake_wechat.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from service import create_app, db
from service.config import Config
from tests.support.apps import AppFactory, reused_app, settings_for
from tests.support.databases import Database, SQLiteDatabase
from tests.support.fake_wechat import FakeWeChat
from tests.support.identity import SignedIn, signed_in_as

pytest_plugins = [
    "tests.plugins.databases",
    "tests.plugins.run",
    "tests.support.parts",  # a tally per test folder (unit, meta) at the end
]


@pytest.fixture(scope="session")
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    """Where the tests keep their data, its migrated tables made once per process."""
    kind = getattr(request, "param", None) or request.config.getoption("db")
    if kind == "mysql":
        # By name, not as a parameter: a run on SQLite starts no MySQL server.
        yield request.getfixturevalue("mysql_database")
        return
    sqlite = SQLiteDatabase()
    yield sqlite
    sqlite.close()


@pytest.fixture(scope="session")
def wechat_server() -> Iterator[FakeWeChat]:
    with FakeWeChat() as fake:
        yield fake


@pytest.fixture
def fake_wechat(wechat_server: FakeWeChat) -> FakeWeChat:
    """The fake WeChat the tests' apps call, forgetting what earlier tests scripted."""
    wechat_server.reset()
    return wechat_server


@pytest.fixture
def app(database: Database, wechat_server: FakeWeChat) -> Iterator[Flask]:
    """The app, on a new database holding the migrations' tables.

    The run keeps one app per configuration (`reused_app`): building one compiles
    every URL rule, and a test that uses this one changes none of them.
    """
    database.empty()
    app = reused_app(settings_for(database.url, wechat_server))
    database.give_tables()
    yield app
    db.dispose()


@pytest.fixture
def config(app: Flask) -> Config:
    """The settings `app` runs with, for tests that build an app or a client of their own."""
    settings: Config = app.config["SERVICE"]
    return settings


@pytest.fixture
def make_app(config: Config, database: Database) -> Iterator[AppFactory]:
    """`make_app(**changes)`: a new app on `config` with those fields changed.

    On the test's database it holds the migrations' tables, or none with
    `migrated=False`: what a service sees before anyone ran `flask db upgrade`.
    """

    def build(*, migrated: bool = True, **changes: Any) -> Flask:
        settings = replace(config, **changes)
        if not migrated and settings.database_url == database.url:
            database.drop_tables()
        app = create_app(settings)
        if migrated:
            database.give_tables()
        return app

    yield build
    db.dispose()


@pytest.fixture
def shared_app(make_app: AppFactory, database: Database, tmp_path: Path) -> Flask:
    """The app on a database that its threads share, as a server's do (not one per connection)."""
    return make_app(database_url=database.shared_url(tmp_path))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def admin(client: FlaskClient, fake_wechat: FakeWeChat, runner: FlaskCliRunner) -> SignedIn:
    """A user signed in, then made admin by `flask users promote`."""
    return signed_in_as("admin", client, fake_wechat, runner, "oAdmin")

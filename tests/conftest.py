"""Fixtures shared by every suite: an app built by the factory, and its clients.

Each suite decides where the data lives by overriding `database_url`: the
unit suite uses SQLite in memory, the integration suite a fresh MySQL database.
The tests themselves never know which.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from service import create_app, db, migrations
from service.config import Config
from tests.support.fake_wechat import FakeWeChat
from tests.support.wechat_credentials import missing_real_credentials

TEST_TOKEN_SECRET = "unit-test-token-secret-" + "0123456789abcdef" * 3  # 71 bytes: HS512-sized


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `wechat` call the real API: on placeholder credentials they skip, saying why."""
    problem = missing_real_credentials(os.environ)
    if problem is None:
        return
    skip = pytest.mark.skip(reason=f"real WeChat API not called: {problem}")
    for item in items:
        if "wechat" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def database_url() -> str:
    return "sqlite:///:memory:"


@pytest.fixture
def file_database_url(tmp_path: Path) -> str:
    """A database that several processes or threads can share at once."""
    return f"sqlite:///{tmp_path / 'shared.sqlite3'}"


@pytest.fixture(scope="session")
def wechat_server() -> Iterator[FakeWeChat]:
    with FakeWeChat() as fake:
        yield fake


@pytest.fixture
def fake_wechat(wechat_server: FakeWeChat) -> FakeWeChat:
    """A protocol-level fake of WeChat's API on a free loopback port, fresh for each test."""
    wechat_server.reset()
    return wechat_server


@pytest.fixture
def config(database_url: str, fake_wechat: FakeWeChat) -> Config:
    return Config(
        database_url=database_url,
        token_secret=TEST_TOKEN_SECRET,
        wx_appid=fake_wechat.appid,
        wx_secret=fake_wechat.secret,
        wx_api_base=fake_wechat.base_url,
        wx_read_timeout=1.0,
        testing=True,
    )


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    app = create_app(config)
    migrations.upgrade()  # tables come from the migrations, as in production
    yield app
    db.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()

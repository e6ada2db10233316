"""Which database the service picks, and that it says so."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import peewee as pw
import pymysql
import pytest
from flask import Flask
from playhouse.pool import PooledDatabase

from service import create_app, db, migrations, schema
from service.config import Config, ConfigError
from service.db import open_database
from service.target import Target, resolve_target


def test_embedded_default_is_an_sqlite_file_in_the_instance_folder() -> None:
    target = resolve_target(Config(), "/srv/instance")
    assert target == Target("sqlite", name=str(Path("/srv/instance") / "service.sqlite3"))


def test_mysql_address_builds_a_mysql_target() -> None:
    config = Config(mysql_address="10.1.2.3:3307", mysql_username="app", mysql_password="pw")
    target = resolve_target(config, "/unused")
    assert target == Target("mysql", "10.1.2.3", 3307, "app", "pw", "flask_demo")


def test_mysql_address_without_port_means_3306() -> None:
    assert resolve_target(Config(mysql_address="db"), "/unused").port == 3306


def test_database_url_overrides_mysql_address() -> None:
    config = Config(database_url="sqlite:///data/x.db", mysql_address="db:3306")
    assert resolve_target(config, "/unused") == Target("sqlite", name="data/x.db")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///:memory:", Target("sqlite", name=":memory:")),
        ("sqlite:////var/lib/x.db", Target("sqlite", name="/var/lib/x.db")),
        (
            "mysql://user:p%40ss@db.example:3310/app",
            Target("mysql", "db.example", 3310, "user", "p@ss", "app"),
        ),
        ("mysql+pymysql://u@h/app", Target("mysql", "h", 3306, "u", "", "app")),
    ],
)
def test_database_url_forms(url: str, expected: Target) -> None:
    assert resolve_target(Config(database_url=url), "/unused") == expected


@pytest.mark.parametrize(
    "url",
    ["postgres://u@h/db", "mysql://u@h/", "sqlite://", "mysql://u@h/db?ssl=1", "nonsense"],
)
def test_unusable_database_url_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        resolve_target(Config(database_url=url), "/unused")


def test_bad_mysql_address_is_refused() -> None:
    with pytest.raises(ConfigError, match="MYSQL_ADDRESS"):
        resolve_target(Config(mysql_address="db:port"), "/unused")


def test_describe_never_shows_the_password() -> None:
    target = Target("mysql", "h", 3306, "u", "hunter2", "d")
    assert target.describe() == "mysql u@h:3306/d"


def test_mysql_is_pooled_with_utf8mb4_and_a_connect_timeout() -> None:
    """The pool's bound is tested on a real server: tests/integration/test_connection_pool.py."""
    config = Config(mysql_pool_size=5, mysql_connect_timeout=2)
    database = open_database(Target("mysql", "h", 3306, "u", "p", "d"), config)
    assert isinstance(database, PooledDatabase)
    assert database.connect_params["charset"] == "utf8mb4"
    assert database.connect_params["connect_timeout"] == 2


def test_sqlite_file_uses_wal(tmp_path: Path) -> None:
    database = open_database(Target("sqlite", name=str(tmp_path / "sub" / "x.db")), Config())
    assert isinstance(database, pw.SqliteDatabase)
    database.connect()
    try:
        assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        database.close()


def test_factory_logs_which_database_it_uses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="service")
    path = tmp_path / "svc.db"
    create_app(Config(database_url=f"sqlite:///{path}"))
    db.dispose()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("database:")]
    assert lines == [f"database: sqlite {path}"]


def test_in_memory_database_keeps_data_between_requests() -> None:
    app = create_app(Config(database_url="sqlite:///:memory:"))
    migrations.upgrade()
    try:
        client = app.test_client()
        client.post("/api/count", json={"action": "inc"})
        assert client.get("/api/count").json["data"] == 1
    finally:
        db.dispose()


def test_connection_is_closed_after_each_request() -> None:
    app = create_app(Config(database_url="sqlite:///:memory:"))
    try:
        app.test_client().get("/api/count")
        assert db.database.is_closed()
    finally:
        db.dispose()


def test_schema_is_only_rendered_from_mysql(app: Flask) -> None:
    with pytest.raises(RuntimeError, match="MySQL"):
        schema.render()


def test_mysql_connections_share_one_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyMySQL's default mode (TLS offered, server not verified), built once, not per connection.

    No server is needed: connecting is replaced by nothing, so what is checked is
    the connection object the pool builds.
    """
    pool = db.open_database(Target("mysql", "127.0.0.1", 1, "u", "p", "d"), Config())
    assert isinstance(pool, db.ConnectionPool)
    pool.server_version = (10, 11, 0)  # as after its first connection: later ones are deferred
    monkeypatch.setattr(pymysql.connections.Connection, "connect", lambda self, sock=None: None)
    contexts = []
    for _ in range(2):
        pool.connect()
        contexts.append(pool.connection().ctx)
        pool.manual_close()
    assert contexts[0] is contexts[1] is pool.tls
    assert pool.tls.verify_mode == ssl.CERT_NONE
    assert not pool.tls.check_hostname

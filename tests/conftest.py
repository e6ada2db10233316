"""Fixtures shared by every suite: where the data lives, an app built by the factory, clients.

The unit suite runs on SQLite in memory. Modules marked `both_databases` run
again on MySQL when pytest is given `--db=mysql` (the integration session
does this; every other unit test is then deselected), and the integration
suite always runs on MySQL. The tests themselves never know which: they ask
for `database_url`, `config` or `app`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from hypothesis import settings

from service import create_app, db, migrations
from service.config import Config
from tests.support.apps import AppFactory, Seeded, shared_app
from tests.support.fake_wechat import FakeWeChat
from tests.support.mysql import (
    MySQLServer,
    NoMySQLAvailable,
    Provider,
    Snapshot,
    check_provider,
    choose_provider,
)
from tests.support.reporting import say, summary_lines, take_from_worker
from tests.support.wechat_credentials import missing_real_credentials

pytest_plugins = ["tests.support.parts"]  # a tally per test folder (unit, meta) at the end

#: Hypothesis: 40 examples per property in everyday runs; HYPOTHESIS_PROFILE=thorough for 1,000.
settings.register_profile("everyday", max_examples=40)
settings.register_profile("thorough", max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "everyday"))

TEST_TOKEN_SECRET = "unit-test-token-secret-" + "0123456789abcdef" * 3  # 71 bytes: HS512-sized
BOTH_DATABASES = "both_databases"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "mysql", "both"),
        default="sqlite",
        help="where the unit modules marked both_databases keep their data (default: sqlite); "
        "both: each of their tests runs on each, in one run (nox -s mutate)",
    )


def on_mysql(config: pytest.Config) -> bool:
    return bool(config.getoption("db") == "mysql")


def in_integration_suite(item: pytest.Item | pytest.FixtureRequest) -> bool:
    path = item.path if isinstance(item, pytest.Item) else Path(str(item.node.path))
    return "integration" in path.parts


def on_both(config: pytest.Config) -> bool:
    return bool(config.getoption("db") == "both")


def pytest_sessionstart(session: pytest.Session) -> None:
    """A run that needs MySQL and can have none stops here, with one line saying why.

    The provider is chosen and tried once (tests/support/mysql.py: check_provider);
    each process then starts its server when a test first needs one. Done once,
    before pytest-xdist's workers exist, so that their many failures do not bury the reason.
    """
    config = session.config
    if hasattr(config, "workerinput") or not (on_mysql(config) or on_both(config)):
        return
    try:
        check_provider(os.environ)
    except NoMySQLAvailable as error:
        pytest.exit(f"mysql: {error}", returncode=1)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`--db=both`: a both_databases test that keeps data runs as [sqlite] and as [mysql].

    One pytest run then kills a mutant with either database, which is what
    mutation testing needs (`nox -s mutate`); everyday runs leave the choice to `--db`.
    """
    if (
        on_both(metafunc.config)
        and metafunc.definition.get_closest_marker(BOTH_DATABASES)
        and "database_kind" in metafunc.fixturenames
    ):
        metafunc.parametrize("database_kind", ["sqlite", "mysql"], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--db=mysql` keeps the integration suite and the `both_databases` modules only.

    Tests marked `wechat` call the real API: on placeholder credentials they
    skip, saying why.
    """
    if on_mysql(config):
        kept = [i for i in items if in_integration_suite(i) or i.get_closest_marker(BOTH_DATABASES)]
        dropped = [i for i in items if i not in kept]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept
    problem = missing_real_credentials(os.environ)
    if problem is None:
        return
    skip = pytest.mark.skip(reason=f"real WeChat API not called: {problem}")
    for item in items:
        if "wechat" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: only called with `-n`
def pytest_testnodedown(node: Any, error: object) -> None:
    take_from_worker(node.config, node.gateway.id, getattr(node, "workeroutput", {}))


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    for line in summary_lines(config):
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def mysql_provider(request: pytest.FixtureRequest) -> Iterator[Provider]:
    """The MySQL of this run (tests/support/mysql.py: MYSQL_ADDRESS, Docker, a local mariadbd)."""
    try:
        provider = choose_provider(os.environ)
        provider.server = provider.start()  # type: ignore[attr-defined]
    except NoMySQLAvailable as error:
        problem = f"mysql: {error}"
    else:
        problem = None
    if problem is not None:
        if hasattr(request.config, "workerinput"):
            # In a pytest-xdist worker, pytest.exit ends the worker mid-test, and the
            # controller reports only an INTERNALERROR ("assert not crashitem"), never
            # this message: failing the fixture shows it on every test that needs MySQL.
            pytest.fail(problem, pytrace=False)
        pytest.exit(problem, returncode=1)
    server: MySQLServer = provider.server  # type: ignore[attr-defined]
    say(
        request.config,
        f"mysql provider: {provider.name} ({server.description}) at {server.host}:{server.port}, "
        f"server {server.execute('SELECT VERSION()')[0][0]}",
    )
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def mysql_server(mysql_provider: Provider) -> MySQLServer:
    server: MySQLServer = mysql_provider.server  # type: ignore[attr-defined]
    return server


@pytest.fixture(scope="session")
def run_database(mysql_server: MySQLServer) -> Iterator[str]:
    """This run's own database; nothing else on the server is touched."""
    with mysql_server.scratch_database() as name:
        yield name


@pytest.fixture
def mysql_database_url(mysql_server: MySQLServer, run_database: str) -> str:
    """The run's database, emptied for each test: every test starts from no tables."""
    mysql_server.drop_database(run_database)
    mysql_server.execute(
        f"CREATE DATABASE `{run_database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    )
    return mysql_server.url(run_database)


@pytest.fixture
def database_kind(request: pytest.FixtureRequest) -> str:
    """sqlite or mysql: the test's own parameter under `--db=both`; else mysql for the
    integration suite and for the unit suite run with `--db=mysql`."""
    chosen = getattr(request, "param", None)
    if chosen is not None:
        return str(chosen)
    return "mysql" if on_mysql(request.config) or in_integration_suite(request) else "sqlite"


@pytest.fixture
def database_url(request: pytest.FixtureRequest, database_kind: str) -> str:
    if database_kind == "mysql":
        url: str = request.getfixturevalue("mysql_database_url")
        return url
    return "sqlite:///:memory:"


@pytest.fixture
def file_database_url(request: pytest.FixtureRequest, tmp_path: Path, database_kind: str) -> str:
    """A database that several processes or threads can share at once (MySQL is, anyway)."""
    if database_kind == "mysql":
        url: str = request.getfixturevalue("database_url")
        return url
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


@pytest.fixture(scope="session")
def migrated_sqlite() -> Iterator[sqlite3.Connection]:
    """An in-memory database the migrations ran on once, for every test's app to start from.

    Tables come from the migrations, as in production; running them costs
    about 70 ms, copying their result with SQLite's backup API a fraction of
    a millisecond.
    """
    create_app(Config(database_url="sqlite:///:memory:", testing=True))
    migrations.upgrade()
    template = sqlite3.connect(":memory:", check_same_thread=False)
    with closing(sqlite3.connect(db.database.obj.database, uri=True)) as source:
        source.backup(template)
    db.dispose()
    yield template
    template.close()


@pytest.fixture(scope="session")
def migrated_mysql(mysql_server: MySQLServer) -> Snapshot:
    """The schema the migrations make on MySQL, made once, as DDL and migratehistory's rows.

    Rebuilding it in a test's empty database takes one CREATE per table;
    running the migrations there took several statements per migration.
    """
    with mysql_server.scratch_database() as name:
        create_app(Config(database_url=mysql_server.url(name), testing=True))
        try:
            migrations.upgrade()
        finally:
            db.dispose()
        return mysql_server.snapshot(name)


#: What a test's tables are copied from: SQLite's migrated template, or MySQL's snapshot.
Template = sqlite3.Connection | Snapshot | None


def _give_tables(request: pytest.FixtureRequest, template: Template) -> None:
    """The migrations' tables in the app's database: copied from the run's template where
    the database is this test's own and empty, else made by running the migrations."""
    real = db.database.obj
    if isinstance(template, sqlite3.Connection) and isinstance(real, db.InMemorySqliteDatabase):
        with closing(sqlite3.connect(real.database, uri=True)) as target:
            template.backup(target)
    elif isinstance(template, Snapshot) and db.is_mysql() and not db.database.get_tables():
        server: MySQLServer = request.getfixturevalue("mysql_server")
        server.restore(real.database, template)
        db.close_connection()
    else:
        migrations.upgrade()


@pytest.fixture
def make_app(config: Config, request: pytest.FixtureRequest) -> Iterator[AppFactory]:
    """Build the app as a test needs it, on tables the migrations made; disposed after the test.

    `migrated=False` leaves the database as it is (empty, unless the test
    filled it): what a service sees before anyone ran `flask db upgrade`.
    `shared=True` gives the run's app for these settings (`shared_app`) instead
    of a new one: for tests that use the app and change nothing on it.
    """
    url = config.database_url or ""
    # The templates are made first: making one builds an app, which points
    # the process's database proxy at the template while it does.
    template: Template = None
    if url == "sqlite:///:memory:":
        template = request.getfixturevalue("migrated_sqlite")
    elif url.startswith("mysql://"):
        template = request.getfixturevalue("migrated_mysql")

    def build(*, migrated: bool = True, shared: bool = False, **changes: Any) -> Flask:
        settings = replace(config, **changes) if changes else config
        app = shared_app(settings) if shared else create_app(settings)
        if migrated:
            same_database = settings.database_url == config.database_url
            _give_tables(request, template if same_database else None)
        return app

    yield build
    db.dispose()


T = TypeVar("T")

#: Seeded databases saved by `seeded`, per key and database kind, for the rest of the run.
_SEEDS: dict[tuple[str, str], tuple[sqlite3.Connection | Snapshot, Any]] = {}


@pytest.fixture
def seeded(request: pytest.FixtureRequest, database_kind: str) -> Seeded:
    """`seeded(key, build)`: the app's database as `build()` left it, and what it returned.

    The first test to ask runs `build` (through the API, as ever) and the
    database it left is saved; every later test with the same key is given a
    copy of that database and the same returned value, without the requests.
    Only the test's own in-memory SQLite or MySQL database is copied; anything
    else runs `build` each time.
    """

    def seed(key: str, build: Callable[[], T]) -> T:
        real = db.database.obj
        on_mysql = database_kind == "mysql" and db.is_mysql()
        if not (on_mysql or isinstance(real, db.InMemorySqliteDatabase)):
            return build()
        server: MySQLServer | None = request.getfixturevalue("mysql_server") if on_mysql else None
        saved = _SEEDS.get((key, database_kind))
        db.close_connection()
        if saved is None:
            made = build()
            db.close_connection()
            copy: sqlite3.Connection | Snapshot
            if server is not None:
                copy = server.snapshot(real.database)
            else:
                copy = sqlite3.connect(":memory:", check_same_thread=False)
                with closing(sqlite3.connect(real.database, uri=True)) as live:
                    live.backup(copy)
            _SEEDS[(key, database_kind)] = (copy, made)
            return made
        copy, made = saved
        if isinstance(copy, Snapshot):
            assert server is not None
            server.replace(real.database, copy)
        else:
            with closing(sqlite3.connect(real.database, uri=True)) as live:
                copy.backup(live)
        return made

    return seed


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    """The app, on a new database whose tables are the migrations' (copied from one migrated
    run): the run's app for the test's settings, since the test changes nothing on it."""
    return make_app(shared=True)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()

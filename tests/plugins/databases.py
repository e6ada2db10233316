"""The plumbing behind the `database` fixture: which database a run uses, and its MySQL.

The unit suite keeps its data in SQLite in memory. Modules marked
`both_databases` run again on MySQL when pytest is given `--db=mysql` (the
integration session does this; every other unit test is then deselected), and
`--db=both` runs each of their tests on each (`nox -s mutate`). The MySQL comes
from tests/support/mysql.py: MYSQL_ADDRESS, Docker, or a local mariadbd.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask import Flask

from tests.support.apps import Seeded
from tests.support.databases import Database, MySQLDatabase
from tests.support.mysql import (
    MySQLServer,
    NoMySQLAvailable,
    Provider,
    check_provider,
    choose_provider,
)
from tests.support.reporting import say

BOTH_DATABASES = "both_databases"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "mysql", "both"),
        default="sqlite",
        help="where the unit modules marked both_databases keep their data (default: sqlite); "
        "both: each of their tests runs on each, in one run (nox -s mutate)",
    )


def kind_of_run(config: pytest.Config) -> str:
    """sqlite, mysql or both: `--db`."""
    return str(config.getoption("db"))


def pytest_sessionstart(session: pytest.Session) -> None:
    """A run that needs MySQL and can have none stops here, with one line saying why.

    The provider is chosen and tried once (tests/support/mysql.py: check_provider);
    each process then starts its server when a test first needs one. Done once,
    before pytest-xdist's workers exist, so that their many failures do not bury the reason.
    """
    config = session.config
    if hasattr(config, "workerinput") or kind_of_run(config) == "sqlite":
        return
    try:
        check_provider(os.environ)
    except NoMySQLAvailable as error:
        pytest.exit(f"mysql: {error}", returncode=1)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`--db=both`: a both_databases test runs as [sqlite] and as [mysql], any other as [sqlite].

    One pytest run then kills a mutant with either database, which is what
    mutation testing needs. Every test that has a database is given one of the
    two, so pytest runs each group together and makes each database once.
    """
    if kind_of_run(metafunc.config) != "both" or "database" not in metafunc.fixturenames:
        return
    both = metafunc.definition.get_closest_marker(BOTH_DATABASES)
    metafunc.parametrize("database", ["sqlite", "mysql"] if both else ["sqlite"], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--db=mysql` keeps the integration suite and the `both_databases` modules only."""
    if kind_of_run(config) != "mysql":
        return
    kept = [
        i for i in items if "integration" in i.path.parts or i.get_closest_marker(BOTH_DATABASES)
    ]
    dropped = [i for i in items if i not in kept]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def mysql_provider(request: pytest.FixtureRequest) -> Iterator[Provider]:
    """The MySQL of this run (tests/support/mysql.py: MYSQL_ADDRESS, Docker, a local mariadbd)."""
    problem: str | None = None
    try:
        provider = choose_provider(os.environ)
        provider.server = provider.start()  # type: ignore[attr-defined]
    except NoMySQLAvailable as error:
        problem = f"mysql: {error}"
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
def mysql_database(mysql_server: MySQLServer) -> Iterator[MySQLDatabase]:
    """This run's own database on the server, and its migrated template; nothing else is touched."""
    made = MySQLDatabase(mysql_server)
    yield made
    made.close()


@pytest.fixture
def seeded(app: Flask, database: Database) -> Seeded:
    """`seeded(key, build)`: the app's database as `build()` left it, and what it returned.

    The first test to ask runs `build` (through the API, as ever) and the
    database is saved; a later test with the same key gets a copy of it and the
    same returned value, without the requests.
    """
    return database.seed

"""The integration suite: a real MySQL for every test, and the service under gunicorn.

The MySQL comes from `tests/support/mysql.py` (MYSQL_ADDRESS, then Docker,
then a local mariadbd/mysqld), through the fixtures in tests/plugins/databases.py.
The suite works only in databases it creates, named `it_<random>`, and drops
them when it ends.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator

import pytest

from tests.support.compose import (
    ComposeStack,
    DockerUnavailable,
    build_image,
    docker_mode,
    remove_image,
)
from tests.support.contract import Contract
from tests.support.databases import MySQLDatabase
from tests.support.envfiles import load_mode
from tests.support.fake_wechat import FakeWeChat
from tests.support.live_server import LiveServer, service_env
from tests.support.mysql import MySQLServer
from tests.support.reporting import say

load_mode("integration")
log = logging.getLogger(__name__)


_SERVICE_URLS: set[str] = set()


@pytest.fixture(scope="session")
def database(mysql_database: MySQLDatabase) -> MySQLDatabase:
    """This suite's tests keep their data on MySQL, whatever `--db` says."""
    return mysql_database


@pytest.fixture(scope="session", autouse=True)
def contract(request: pytest.FixtureRequest) -> Iterator[Contract]:
    """Every response from a service under test must match openapi.yaml."""
    with Contract().watching(lambda url: any(url.startswith(u) for u in _SERVICE_URLS)) as c:
        yield c
    say(
        request.config,
        f"openapi contract: {c.checked} responses checked, {c.skipped} off-spec paths",
    )


#: The modules that take longest (10-25 s a test, mostly waiting on the servers they
#: start), longest first. pytest-xdist hands out modules in the order collected:
#: started first, a long module runs beside the short ones on the other workers; left
#: to the end by the shuffle, it ran alone.
LONGEST_FIRST = (
    "test_fuzz_openapi.py",
    "test_outbox_restart.py",
    "test_outage.py",
    "test_hostile_clients.py",
    "test_live_counter.py",
    "test_graceful_shutdown.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """LONGEST_FIRST's modules at the front; every test keeps its shuffled place otherwise.

    pytest-randomly shuffles before any other plugin reorders, so this stable sort
    leaves the random order within each module and among all the others.
    """

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


def pytest_sessionstart(session: pytest.Session) -> None:
    try:
        session.config.stash[_DOCKER_MODE] = docker_mode(os.environ)
    except DockerUnavailable as error:
        pytest.exit(f"integration: {error}", returncode=1)


_DOCKER_MODE = pytest.StashKey[bool]()


def in_docker_mode(config: pytest.Config) -> bool:
    return config.stash.get(_DOCKER_MODE, False)


@pytest.fixture(scope="session")
def wechat_server(request: pytest.FixtureRequest) -> Iterator[FakeWeChat]:
    """The fake WeChat; in container mode on every interface, so the container reaches it."""
    host = "0.0.0.0" if in_docker_mode(request.config) else "127.0.0.1"  # noqa: S104
    with FakeWeChat(host=host) as fake:
        yield fake


@pytest.fixture(scope="session")
def service_image(request: pytest.FixtureRequest) -> Iterator[str]:
    """docker/Dockerfile, built once for the run and removed afterwards (container mode only)."""
    if not in_docker_mode(request.config):
        pytest.skip("container tests run with RUN_DOCKER_INTEGRATION_TESTS=true")
    tag = f"wxcloudrun-service:it-{secrets.token_hex(4)}"
    try:
        yield build_image(tag)
    finally:
        remove_image(tag)


@pytest.fixture(scope="module")
def live_server(
    request: pytest.FixtureRequest, mysql_server: MySQLServer, wechat_server: FakeWeChat
) -> Iterator[LiveServer | ComposeStack]:
    """The service over HTTP: gunicorn as the container runs it, or the built container itself.

    By default a local gunicorn with the project's gunicorn.conf.py, migrating
    its own database at start; with RUN_DOCKER_INTEGRATION_TESTS=true the image
    built from docker/Dockerfile under docker/docker-compose.yml.
    """
    if in_docker_mode(request.config):
        image: str = request.getfixturevalue("service_image")
        with ComposeStack(image, wechat_server) as stack:
            _SERVICE_URLS.add(stack.url)
            yield stack
        return
    with mysql_server.scratch_database() as name:
        env = {
            **service_env(mysql_server.url(name), wechat_server),
            "WX_READ_TIMEOUT": "1",
            # Every test client comes from 127.0.0.1; the limits have tests of their own.
            "LOGIN_LIMIT_PER_ADDRESS": "100000",
            "LOGIN_LIMIT_PER_OPENID": "100000",
        }
        with LiveServer(env, workers=2) as server:
            _SERVICE_URLS.add(server.url)
            yield server

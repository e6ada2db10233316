"""The embedded default under the real server: gunicorn, two worker processes, one SQLite file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.support.live_server import LiveServer
from tests.support.load import concurrent_incs


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    path = tmp_path_factory.mktemp("gunicorn") / "service.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{path}", "AUTO_MIGRATE": "true", "APP_ENV": "development"}
    with LiveServer(env, workers=2) as server:
        yield server


def clear(server: LiveServer) -> None:
    """Each test starts from 0, whatever order they run in on the module's one server."""
    cleared = requests.post(f"{server.url}/api/count", json={"action": "clear"}, timeout=5)
    assert cleared.json()["data"] == 0


def test_gunicorn_serves_the_counter_from_sqlite(sqlite_server: LiveServer) -> None:
    clear(sqlite_server)
    response = requests.get(f"{sqlite_server.url}/api/count", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"code": 1, "data": 0, "msg": "success"}


def test_concurrent_incs_across_two_workers_return_1_to_n(sqlite_server: LiveServer) -> None:
    clear(sqlite_server)
    total = 400
    values = concurrent_incs(sqlite_server.url, total=total, clients=16)
    assert sorted(values) == list(range(1, total + 1))
    final = requests.get(f"{sqlite_server.url}/api/count", timeout=5).json()["data"]
    assert final == total

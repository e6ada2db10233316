"""A database outage: 503 quickly while it lasts, service again once it ends, no restart.

The test stops and restarts a MySQL server, so it runs its own throwaway one
rather than whichever server the rest of the suite shares.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from tests.support.live_server import LiveServer
from tests.support.mysql import LocalBinaryServer, find_server_binary


@pytest.fixture(scope="module")
def own_mysql() -> Iterator[LocalBinaryServer]:
    binary = find_server_binary()
    if binary is None:
        pytest.skip("no mariadbd or mysqld binary here to stop and restart")
    provider = LocalBinaryServer(binary)
    provider.server = provider.start()  # type: ignore[attr-defined]
    yield provider
    provider.stop()


def timed_get(url: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(url, timeout=10)
    return response, time.monotonic() - started


def test_database_outage_and_recovery(own_mysql: LocalBinaryServer) -> None:
    mysql = own_mysql.server  # type: ignore[attr-defined]
    with mysql.scratch_database() as name:
        env = {"DATABASE_URL": mysql.url(name), "AUTO_MIGRATE": "true"}
        with LiveServer(env, workers=2) as server:
            inc = requests.post(f"{server.url}/api/count", json={"action": "inc"}, timeout=5)
            assert inc.json()["data"] == 1
            assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200

            own_mysql.pause()
            for path in ("/readyz", "/api/count"):
                response, took = timed_get(f"{server.url}{path}")
                assert response.status_code == 503, path
                assert response.json()["error"] == "database_unavailable"
                assert took < 2.0, f"{path} took {took:.2f} s"
            assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200

            own_mysql.resume()
            deadline = time.monotonic() + 30
            while requests.get(f"{server.url}/readyz", timeout=5).status_code != 200:
                assert time.monotonic() < deadline, "not ready 30 s after the database came back"
                time.sleep(0.2)
            # Every pooled connection from before the outage is dead; none may surface.
            for expected in range(2, 22):
                inc = requests.post(f"{server.url}/api/count", json={"action": "inc"}, timeout=5)
                assert inc.status_code == 200, inc.text
                assert inc.json()["data"] == expected

"""A database outage: 503 quickly while it lasts, service again once it ends, no restart.

The test stops and restarts a MySQL server, so it runs its own throwaway one
rather than whichever server the rest of the suite shares.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from service.config import Config
from service.db import UNAVAILABLE_ERRORS, open_database
from service.target import Target
from tests.support.live_server import LiveServer
from tests.support.mysql import LocalBinaryServer, find_server_binary
from tests.support.waiting import wait_until, waiting_on


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


def assert_recovers(server: LiveServer, next_count: int) -> None:
    """Ready within 30 s of the database coming back, then 20 incs in a row, none lost."""
    wait_until(
        lambda: requests.get(f"{server.url}/readyz", timeout=5).status_code == 200,
        30,
        "/readyz to answer 200 after the database came back",
    )
    for expected in range(next_count, next_count + 20):
        inc = requests.post(f"{server.url}/api/count", json={"action": "inc"}, timeout=5)
        assert inc.status_code == 200, inc.text
        assert inc.json()["data"] == expected


WAKE_TIMEOUT = 2.0  # MYSQL_WAKE_TIMEOUT for the outage test: a short budget, a short test


def test_database_outage_and_recovery(own_mysql: LocalBinaryServer) -> None:
    """Down longer than MYSQL_WAKE_TIMEOUT: 503 within the budget + 1 s; back: 200, no restart."""
    mysql = own_mysql.server  # type: ignore[attr-defined]
    with mysql.scratch_database() as name:
        env = {
            "DATABASE_URL": mysql.url(name),
            "AUTO_MIGRATE": "true",
            "MYSQL_WAKE_TIMEOUT": str(WAKE_TIMEOUT),
        }
        with LiveServer(env, workers=2) as server:
            inc = requests.post(f"{server.url}/api/count", json={"action": "inc"}, timeout=5)
            assert inc.json()["data"] == 1
            assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200

            own_mysql.pause()
            for path, within in (("/readyz", 2.0), ("/api/count", WAKE_TIMEOUT + 1)):
                response, took = timed_get(f"{server.url}{path}")
                assert response.status_code == 503, path
                assert response.json()["error"] == "database_unavailable"
                assert took < within, f"{path} took {took:.2f} s"
            assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
            log = server.output()
            assert "database unavailable: OperationalError 2003" in log  # the driver's code

            own_mysql.resume()
            # Every pooled connection from before the outage is dead; none may surface.
            assert_recovers(server, next_count=2)


HUNG_READ_TIMEOUT = 2.0  # MYSQL_READ_TIMEOUT for this server
WAITING = 20  # database requests at once; each worker serves each in a greenlet of its own


def test_a_hung_database_gives_503_in_bounded_time_and_probes_stay_fast(
    own_mysql: LocalBinaryServer,
) -> None:
    mysql = own_mysql.server  # type: ignore[attr-defined]
    with mysql.scratch_database() as name:
        env = {
            "DATABASE_URL": mysql.url(name),
            "AUTO_MIGRATE": "true",
            "MYSQL_READ_TIMEOUT": str(HUNG_READ_TIMEOUT),
            "MYSQL_WRITE_TIMEOUT": str(HUNG_READ_TIMEOUT),
            # One worker may accept them all: its pool holds them all, so none
            # waits for a connection (how a full pool behaves is not this test's).
            "MYSQL_POOL_SIZE": str(WAITING),
        }
        with LiveServer(env, workers=2) as server:
            for expected in (1, 2):
                inc = requests.post(f"{server.url}/api/count", json={"action": "inc"}, timeout=5)
                assert inc.json()["data"] == expected

            own_mysql.freeze()
            try:
                with ThreadPoolExecutor(WAITING) as pool:
                    waiting = [
                        pool.submit(timed_get, f"{server.url}/api/count") for _ in range(WAITING)
                    ]
                    wait_until(
                        lambda: waiting_on(mysql.port) >= WAITING,
                        10,
                        f"{WAITING} requests waiting on the hung database at once "
                        "(fewer: some wait in line inside the service)",
                    )
                    healthz, healthz_took = timed_get(f"{server.url}/healthz")
                    readyz, readyz_took = timed_get(f"{server.url}/readyz")
                    results = [f.result(timeout=30) for f in waiting]
            finally:
                own_mysql.thaw()
            times = sorted(took for _, took in results)
            print(
                f"database hung: /healthz {healthz_took * 1000:.0f} ms, /readyz 503 in "
                f"{readyz_took:.2f} s; {WAITING} reads 503 after (s, MYSQL_READ_TIMEOUT="
                f"{HUNG_READ_TIMEOUT}): " + " ".join(f"{took:.1f}" for took in times)
            )
            assert healthz.status_code == 200
            assert healthz_took < 1.0
            assert (readyz.status_code, readyz.json()["error"]) == (503, "database_unavailable")
            assert readyz_took < 2.0
            for response, _ in results:
                assert response.status_code == 503, response.text
                assert response.json()["error"] == "database_unavailable"
            # Each waits one read timeout, all at once: none queues behind another.
            assert times[-1] < 2 * HUNG_READ_TIMEOUT, times

            assert_recovers(server, next_count=3)


def test_a_request_during_a_short_outage_waits_and_succeeds(
    own_mysql: LocalBinaryServer,
) -> None:
    """Cloud Run's MySQL refuses connections while it resumes: the request waits, then 200."""
    mysql = own_mysql.server  # type: ignore[attr-defined]
    with mysql.scratch_database() as name:
        env = {"DATABASE_URL": mysql.url(name), "AUTO_MIGRATE": "true"}  # budget: 8 s
        with LiveServer(env, workers=2) as server:
            first = requests.post(f"{server.url}/api/count", json={"action": "inc"}, timeout=5)
            assert first.json()["data"] == 1
            own_mysql.pause()
            with ThreadPoolExecutor(1) as pool:
                # A new connection is needed: the pooled ones died with the server.
                waiting = pool.submit(timed_get, f"{server.url}/api/count")
                wait_until(
                    lambda: "database refused the connection; retrying" in server.output(),
                    5,
                    "the request to retry the refused connection",
                )
                time.sleep(3.0)  # the outage goes on: its length is what is tested
                own_mysql.resume()
                response, took = waiting.result(timeout=30)
            assert response.status_code == 200, response.text
            assert response.json()["data"] == 1
            assert 3.0 <= took < 8.0 + 1, took
            print(f"request sent while MySQL was down, answered 200 after {took:.1f} s")


def test_requests_waiting_on_a_hung_database_wait_side_by_side(
    own_mysql: LocalBinaryServer,
) -> None:
    """20 requests at once on a hung server: each 503s after its own timeout, none waits in line.

    The pool alone, in 20 threads, so the bound is the pool's whatever the web
    worker: two connections idle in the pool (their reads hang for the read
    timeout), the other 18 new (their handshakes hang for the connect timeout).
    """
    mysql = own_mysql.server  # type: ignore[attr-defined]
    with mysql.scratch_database() as name:
        target = Target("mysql", mysql.host, mysql.port, mysql.user, mysql.password, name)
        config = Config(
            mysql_pool_size=20, mysql_read_timeout=HUNG_READ_TIMEOUT, mysql_connect_timeout=2
        )
        pool = open_database(target, config)
        ready = threading.Barrier(2)

        def hold_one() -> None:
            pool.connect()
            pool.execute_sql("SELECT 1")
            ready.wait(10)
            pool.close()

        holder = threading.Thread(target=hold_one)
        holder.start()
        pool.connect()
        pool.execute_sql("SELECT 1")
        ready.wait(10)
        holder.join(10)
        pool.close()  # two connections idle in the pool, both just used

        def read() -> tuple[str, float]:
            started = time.monotonic()
            try:
                pool.execute_sql("SELECT 1").fetchone()
                outcome = "answered"
            except UNAVAILABLE_ERRORS as error:
                outcome = type(error).__name__
            finally:
                pool.close()
            return outcome, time.monotonic() - started

        own_mysql.freeze()
        try:
            with ThreadPoolExecutor(20) as threads:
                results = [f.result(timeout=60) for f in [threads.submit(read) for _ in range(20)]]
        finally:
            own_mysql.thaw()
            pool.close_all()
        times = sorted(took for _, took in results)
        print("hung database, 20 reads failed after (s): " + " ".join(f"{t:.1f}" for t in times))
        assert {outcome for outcome, _ in results} == {"OperationalError"}, results
        assert times[-1] < 2 * HUNG_READ_TIMEOUT, times

"""The MySQL connection pool: no needless round trips, and no broken connection handed out."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import peewee as pw
import pymysql
import pytest
from playhouse.pool import MaxConnectionsExceeded

from service.config import Config
from service.db import ConnectionPool, open_database
from service.target import Target
from tests.support.mysql import MySQLServer
from tests.support.waiting import wait_until


@pytest.fixture
def scratch(mysql_server: MySQLServer) -> Iterator[str]:
    """A database of the test's own on the server."""
    with mysql_server.scratch_database() as name:
        yield name


@pytest.fixture
def pool(mysql_server: MySQLServer, scratch: str) -> Iterator[ConnectionPool]:
    target = Target(
        "mysql",
        mysql_server.host,
        mysql_server.port,
        mysql_server.user,
        mysql_server.password,
        scratch,
    )
    database = open_database(target, Config(mysql_pool_size=2, mysql_connect_timeout=1))
    assert isinstance(database, ConnectionPool)
    yield database
    database.close_all()


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per ping any PyMySQL connection sends."""
    sent: list[int] = []
    real_ping = pymysql.connections.Connection.ping

    def counting_ping(self: pymysql.connections.Connection, *args: object) -> object:
        sent.append(1)
        return real_ping(self, *args)

    monkeypatch.setattr(pymysql.connections.Connection, "ping", counting_ping)
    return sent


def connection_id(pool: ConnectionPool) -> int:
    return int(pool.execute_sql("SELECT CONNECTION_ID()").fetchone()[0])


def test_a_connection_back_a_moment_ago_is_reused_without_a_ping(
    pool: ConnectionPool, pings: list[int]
) -> None:
    pool.connect()
    first = connection_id(pool)
    pool.close()
    pool.connect()
    assert connection_id(pool) == first
    pool.close()
    assert pings == []


def test_an_idle_connection_killed_by_the_server_is_replaced(
    pool: ConnectionPool, mysql_server: MySQLServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "PING_AFTER", 0.0)  # every connection taken counts as idle
    pool.connect()
    first = connection_id(pool)
    pool.close()
    kill(mysql_server, first)
    pool.connect()
    assert connection_id(pool) != first  # the dead one was pinged and dropped
    pool.close()


def test_returning_a_connection_costs_no_rollback_when_none_is_open(
    pool: ConnectionPool,
) -> None:
    """A read's connection goes back to the pool without a ROLLBACK (the server counts them)."""
    for _ in range(3):
        pool.connect()
        connection_id(pool)
        pool.close()
    pool.connect()
    rollbacks = pool.execute_sql("SHOW SESSION STATUS LIKE 'Com_rollback'").fetchone()[1]
    pool.close()
    assert int(rollbacks) == 0


def test_an_open_transaction_is_rolled_back_on_return(
    pool: ConnectionPool, mysql_server: MySQLServer, scratch: str
) -> None:
    mysql_server.execute(f"CREATE TABLE IF NOT EXISTS `{scratch}`.pool_probe (n INT)")
    pool.connect()
    pool.execute_sql("BEGIN")
    pool.execute_sql("INSERT INTO pool_probe (n) VALUES (1)")
    pool.close()
    pool.connect()
    assert pool.execute_sql("SELECT COUNT(*) FROM pool_probe").fetchone()[0] == 0
    pool.close()


def test_the_pool_is_bounded_and_waits_only_briefly(pool: ConnectionPool) -> None:
    holding = threading.Barrier(3)
    release = threading.Event()

    def hold() -> None:
        pool.connect()
        holding.wait()
        release.wait(10)
        pool.close()

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for thread in holders:
        thread.start()
    holding.wait()
    started = time.monotonic()
    try:
        with pytest.raises(MaxConnectionsExceeded):
            pool.connect()
        assert time.monotonic() - started < 2.5  # MYSQL_CONNECT_TIMEOUT, not forever
    finally:
        release.set()
        for thread in holders:
            thread.join(10)


def kill(mysql_server: MySQLServer, connection: int) -> None:
    """KILL it, and wait until the server has ended the session (its socket closed)."""
    mysql_server.execute(f"KILL {connection}")
    wait_until(lambda: not mysql_server.connected(connection), 5, f"session {connection} to end")


def test_a_connection_that_dies_after_checkout_is_replaced_for_a_read(
    pool: ConnectionPool, mysql_server: MySQLServer
) -> None:
    """Dead between checkout and the first statement: the read runs on a new connection."""
    pool.connect()
    first = connection_id(pool)
    pool.close()
    pool.connect()  # handed out without a round trip (back a moment ago)
    kill(mysql_server, first)
    assert connection_id(pool) != first  # the SELECT was retried, once, on a new one
    pool.close()


def test_a_write_whose_connection_died_mid_statement_is_not_retried(
    pool: ConnectionPool, mysql_server: MySQLServer, scratch: str
) -> None:
    """A write that reached the server may have been applied, so it is never sent again.

    The INSERT is the checkout's first statement, as a retried one would be, and
    its connection is killed while the server runs it. Sent again on a new
    connection it would succeed; instead the caller gets the error.
    """
    mysql_server.execute(f"CREATE TABLE IF NOT EXISTS `{scratch}`.t (n INT)")
    pool.connect()
    connection_id(pool)
    pool.close()

    def kill_the_insert() -> None:
        def running() -> list[tuple[int, ...]]:
            return mysql_server.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND INFO LIKE %s",
                scratch,
                "INSERT INTO t%",
            )

        mysql_server.execute(f"KILL {wait_until(running, 5, 'the INSERT to run')[0][0]}")

    killer = threading.Thread(target=kill_the_insert)
    pool.connect()
    killer.start()
    with pytest.raises((pw.OperationalError, pw.InterfaceError)):
        pool.execute_sql("INSERT INTO t (n) SELECT SLEEP(3)")
    killer.join(10)
    pool.close()
    # The killed statement was rolled back; a retry would have inserted a row.
    assert mysql_server.execute(f"SELECT COUNT(*) FROM `{scratch}`.t")[0][0] == 0


def test_only_the_first_statement_of_a_checkout_is_retried(
    pool: ConnectionPool, mysql_server: MySQLServer
) -> None:
    pool.connect()
    first = connection_id(pool)  # the first statement: this checkout is tried
    kill(mysql_server, first)
    with pytest.raises((pw.OperationalError, pw.InterfaceError)):
        connection_id(pool)
    pool.close()

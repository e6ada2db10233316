"""A worker's first MySQL connections, on a server that accepts and then says nothing.

peewee learns the server's version from the first connection it is given, and
takes its locks around that; if the connection were opened there, every other
request of the worker would wait in line behind one stuck in its connect timeout.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import peewee as pw
import pytest

from service.config import Config
from service.db import ConnectionPool, open_database
from service.target import Target
from tests.support.waiting import not_accepted, wait_until

CHECKOUTS = 4


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listener never accepts: the kernel completes each handshake, and
    no greeting ever comes, as from a MySQL server that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(CHECKOUTS * 2)
        yield listener.getsockname()[1]


def test_first_connections_to_a_hung_server_wait_side_by_side(silent_port: int) -> None:
    target = Target("mysql", "127.0.0.1", silent_port, "app", "", "app")
    pool = open_database(
        target, Config(mysql_connect_timeout=3, mysql_read_timeout=3, mysql_wake_timeout=0.1)
    )
    assert isinstance(pool, ConnectionPool)
    failures: list[BaseException] = []

    def checkout() -> None:
        try:
            pool.connect()
        except pw.OperationalError as error:
            failures.append(error)

    threads = [threading.Thread(target=checkout) for _ in range(CHECKOUTS)]
    for thread in threads:
        thread.start()
    try:
        # Each checkout's connection reaches the server at once.
        wait_until(
            lambda: not_accepted(silent_port) >= CHECKOUTS,
            2.5,  # within the timeouts (3 s): in line, the second would not have begun
            f"{CHECKOUTS} first connections to the hung server at once",
        )
    finally:
        for thread in threads:
            thread.join(10)
    assert len(failures) == CHECKOUTS
    assert pool.server_version is None  # no connection told it; the next checkout asks again

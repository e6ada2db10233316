"""Waiting for an event the test can see, with a deadline, instead of sleeping and hoping.

`wait_until` asks a question until it is answered or the deadline passes.
The questions here read what a server is doing from outside it: the
kernel's TCP tables (Linux's /proc/net/tcp), which show connections a
server has not accepted yet, bytes it has not read, and connections it has
closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

#: How often a question is asked again: short beside any deadline, long beside the question.
POLL_INTERVAL = 0.02


def wait_until(question: Callable[[], T], timeout: float, waiting_for: str) -> T:
    """The first answer of `question()` that is true; fails saying what it waited for."""
    deadline = time.monotonic() + timeout
    while True:
        answer = question()
        if answer:
            return answer
        if time.monotonic() >= deadline:
            pytest.fail(f"still waiting after {timeout:g} s for {waiting_for}", pytrace=False)
        time.sleep(POLL_INTERVAL)


#: Linux's TCP states, as /proc/net/tcp numbers them.
LISTEN = "0A"
ESTABLISHED = "01"
TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


@dataclass(frozen=True)
class TcpSocket:
    local_port: int
    remote_port: int
    state: str
    #: Bytes sent and not yet acknowledged by the peer.
    send_queue: int
    #: Bytes received and not yet read; for a listening socket, connections not yet accepted.
    receive_queue: int


def tcp_sockets() -> list[TcpSocket]:
    """Every TCP socket of this machine's network namespace (skips where there is no /proc)."""
    if not TCP_TABLES[0].exists():
        pytest.skip("this wait reads Linux's /proc/net/tcp, which this system does not have")
    found = []
    for table in TCP_TABLES:
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
            sent, received = queues.split(":")
            found.append(
                TcpSocket(
                    int(local.rsplit(":", 1)[1], 16),
                    int(remote.rsplit(":", 1)[1], 16),
                    state,
                    int(sent, 16),
                    int(received, 16),
                )
            )
    return found


def not_accepted(port: int) -> int:
    """Connections to the server listening on `port` that it has not accepted yet."""
    return sum(s.receive_queue for s in tcp_sockets() if s.local_port == port and s.state == LISTEN)


def waiting_on(port: int) -> int:
    """Clients waiting for the server on `port`: connections it has not accepted, and
    accepted ones holding bytes it has not read (a server stopped with SIGSTOP, say)."""
    sockets = tcp_sockets()
    unread = sum(
        1
        for s in sockets
        if s.local_port == port and s.state == ESTABLISHED and s.receive_queue > 0
    )
    return unread + not_accepted(port)


def server_side_state(port: int, client_port: int) -> str | None:
    """The state of the server's end (on `port`) of the connection from `client_port`."""
    for s in tcp_sockets():
        if s.local_port == port and s.remote_port == client_port:
            return s.state
    return None

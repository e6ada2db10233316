"""Waiting on the outbox's senders and reading what they did, for the subscribe-message tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from service import db

#: A template id as the console issues them: 43 characters of base64url.
TEMPLATE = "tVerifyResult-0123456789_abcdefghijABCDEFGHI"
#: What a sender's thread is called (service/outbox.py, send_soon).
SENDER = "outbox-send"

T = TypeVar("T")


def senders_done(timeout: float = 30.0) -> None:
    """Wait for every sender thread the service started; fail if one is still running.

    A sender left running would write into the next test's database.
    """
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread.name == SENDER:
            thread.join(max(deadline - time.monotonic(), 0.0))
            assert not thread.is_alive(), "an outbox sender is still running"
    db.close_connection()


def eventually(check: Callable[[], T], timeout: float = 30.0, every: float = 0.02) -> T:
    """`check()`'s first truthy value, asked until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not so after {timeout} s: {check}")
        time.sleep(every)

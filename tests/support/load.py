"""Concurrent clients for the live-server tests: bounded in count and time, loopback only."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests


def concurrent_incs(base_url: str, total: int, clients: int, timeout: float = 30) -> list[int]:
    """Send `total` incs from `clients` threads (a keep-alive session each); the values returned.

    Raises on the first failed request: a lost or failed increment must fail
    the test, never be counted as a smaller result.
    """
    local = threading.local()

    def one(_: int) -> int:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        response = session.post(f"{base_url}/api/count", json={"action": "inc"}, timeout=timeout)
        response.raise_for_status()
        body = response.json()
        assert body["code"] == 1, body
        return int(body["data"])

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(one, range(total)))

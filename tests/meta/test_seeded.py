"""The `seeded` fixture: a costly setup made once, then copied into each test's database."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient

from tests.support.apps import Seeded

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


def count(client: FlaskClient) -> int:
    value: int = client.get("/api/count").json["data"]
    return value


def test_a_seed_is_made_once_then_its_database_is_given_back(
    client: FlaskClient, seeded: Seeded
) -> None:
    key = f"seed-{uuid.uuid4().hex}"
    made: list[int] = []

    def build() -> dict[str, int]:
        made.append(1)
        for _ in range(3):
            client.post("/api/count", json={"action": "inc"})
        return {"at": count(client)}

    assert seeded(key, build) == {"at": 3}
    client.post("/api/count", json={"action": "clear"})
    client.post("/api/count", json={"action": "inc"})
    assert count(client) == 1

    assert seeded(key, build) == {"at": 3}
    assert made == [1]
    assert count(client) == 3  # the saved rows, not what this test did after
    client.post("/api/count", json={"action": "inc"})
    assert count(client) == 4  # and the copy takes writes as any database does

"""The counter's queries, straight against the database (rerun on MySQL by integration)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask

from service import counter, db
from service.models import Counter

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


def test_current_is_zero_without_a_row(app: Flask) -> None:
    assert Counter.select().count() == 0
    assert counter.current() == 0


def test_first_increment_creates_the_single_row(app: Flask) -> None:
    assert counter.increment() == 1
    rows = list(Counter.select())
    assert [(r.id, r.count) for r in rows] == [(counter.COUNTER_ID, 1)]
    assert rows[0].created_at is not None


def test_increment_touches_updated_at(app: Flask) -> None:
    counter.increment()
    before = Counter.get_by_id(counter.COUNTER_ID).updated_at
    Counter.update(updated_at=before.replace(year=2000)).execute()
    counter.increment()
    assert Counter.get_by_id(counter.COUNTER_ID).updated_at.year > 2000


def test_clear_keeps_the_row_at_zero(app: Flask) -> None:
    counter.increment()
    counter.increment()
    assert counter.clear() == 0
    assert [r.count for r in Counter.select()] == [0]
    assert counter.increment() == 1


def test_clear_without_a_row_creates_nothing(app: Flask) -> None:
    assert counter.clear() == 0
    assert Counter.select().count() == 0


def test_increment_is_atomic_under_threads(shared_app: Flask) -> None:
    """Each thread has its own connection; no two may see the same value."""

    def work(_: int) -> int:
        try:
            return counter.increment()
        finally:
            db.close_connection()

    with ThreadPoolExecutor(max_workers=8) as pool:
        values = list(pool.map(work, range(400)))
    assert sorted(values) == list(range(1, 401))
    assert counter.current() == 400

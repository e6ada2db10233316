"""Every stored row, to show that a refused request changed nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import peewee as pw

from service import db
from service.models import MODELS, RateLimit

#: The tables a refused request must leave as they were: rate-limit counters aside,
#: since counting attempts, refused ones too, is their job.
STORED: tuple[type[pw.Model], ...] = tuple(m for m in MODELS if m is not RateLimit)


def _every_row(model: type[pw.Model]) -> str:
    """The SELECT of a table's rows in key order, as SQL for the database in use."""
    sql, params = model.select().order_by(model._meta.primary_key).sql()
    assert not params
    return str(sql)


_SQL: dict[tuple[type[pw.Database], tuple[type[pw.Model], ...]], dict[str, str]] = {}


def snapshot(models: Sequence[type[pw.Model]] = STORED) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of `models`' tables, by table, in key order.

    Read with SQL built once per database rather than a new peewee query each
    time: the abuse tests take two snapshots around every hostile request.
    """
    key = (type(db.database.obj), tuple(models))
    if key not in _SQL:
        _SQL[key] = {m._meta.table_name: _every_row(m) for m in models}
    return {
        table: [tuple(row) for row in db.database.execute_sql(sql).fetchall()]
        for table, sql in _SQL[key].items()
    }

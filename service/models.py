"""The tables, as peewee models bound to the database proxy."""

from __future__ import annotations

from datetime import UTC, datetime

import peewee as pw

from service.db import database


def utcnow() -> datetime:
    """Naive UTC: DATETIME columns carry no zone, and Cloud Run runs in UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(pw.Model):
    id = pw.AutoField()
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        database = database
        legacy_table_names = False


class Counter(BaseModel):
    """The template's counter: a single row, id 1, as the original kept it."""

    count = pw.IntegerField(default=0)

    class Meta:
        table_name = "Counters"


MODELS: list[type[BaseModel]] = [Counter]

"""The template's counter: `GET/POST /api/count`, and the queries behind it."""

from __future__ import annotations

from flask import Blueprint, Response

from service import db
from service.envelope import success
from service.errors import (
    COUNTER_AT_MAXIMUM,
    INTERNAL_ERROR,
    INVALID_ACTION,
    MISSING_ACTION,
    ApiError,
)
from service.models import Counter, utcnow
from service.payload import json_object

COUNTER_ID = 1
#: The column is MySQL's INT: one more would be an out-of-range error (1264).
MAX_COUNT = 2**31 - 1

bp = Blueprint("counter", __name__, url_prefix="/api")


def current() -> int:
    # SQL rather than a peewee query: building the query's SQL was a third of
    # this request's CPU. `database.param` is the driver's placeholder.
    row = db.database.execute_sql(
        f"SELECT count FROM Counters WHERE id = {db.database.param}",  # noqa: S608 - the placeholder
        (COUNTER_ID,),
    ).fetchone()
    return int(row[0]) if row else 0


def _increment_once() -> int | None:
    """Add one in a single statement and read the result back; None when no row exists.

    The read must belong to the same statement as the write, or two concurrent
    increments could both read the later value. MySQL has no `RETURNING`, but
    `LAST_INSERT_ID(expr)` remembers a value per connection and the server
    reports it with the statement's result; SQLite has `RETURNING` (3.35+).
    Both are one round trip in autocommit, with no transaction held open. A row
    at the maximum matches nothing, like a missing row: `increment` tells them apart.
    """
    if db.is_mysql():
        # SQL rather than a peewee query, as in `current`: its building was a
        # quarter of an increment's CPU.
        cursor = db.database.execute_sql(
            "UPDATE Counters SET count = LAST_INSERT_ID(count + 1), updated_at = %s"
            " WHERE id = %s AND count < %s",
            (utcnow(), COUNTER_ID, MAX_COUNT),
        )
        return int(cursor.lastrowid) if cursor.rowcount else None
    below_maximum = (Counter.id == COUNTER_ID) & (Counter.count < MAX_COUNT)
    rows = list(
        Counter.update({Counter.count: Counter.count + 1, Counter.updated_at: utcnow()})
        .where(below_maximum)
        .returning(Counter.count)
        .tuples()
    )
    return int(rows[0][0]) if rows else None


def increment() -> int:
    """The next value; at MAX_COUNT, 409 counter_at_maximum and the count stays.

    A clear refusal rather than a wider column: a counter that reached two
    billion is a bug or an attack, and `clear` starts it again.
    """
    value = _increment_once()
    if value is None:
        if current() >= MAX_COUNT:
            raise ApiError(COUNTER_AT_MAXIMUM)
        # First increment ever: create the row at 0 (a concurrent creator wins
        # harmlessly), then increment like everyone else.
        Counter.insert(id=COUNTER_ID, count=0).on_conflict_ignore().execute()
        value = _increment_once()
    if value is None:  # pragma: no cover - deleted or filled between two statements
        raise ApiError(COUNTER_AT_MAXIMUM if current() >= MAX_COUNT else INTERNAL_ERROR)
    return value


def clear() -> int:
    Counter.update({Counter.count: 0, Counter.updated_at: utcnow()}).where(
        Counter.id == COUNTER_ID
    ).execute()
    return 0


ACTIONS = {"inc": increment, "clear": clear}


@bp.get("/count")
def get_count() -> Response:
    return success(current())


@bp.post("/count")
def post_count() -> Response:
    body = json_object()
    action = body.get("action")
    if action is None:
        raise ApiError(MISSING_ACTION)
    if not isinstance(action, str) or action not in ACTIONS:
        raise ApiError(INVALID_ACTION)
    return success(ACTIONS[action]())

"""The hot path's statements: written with peewee's query builder, compiled to SQL once.

Building a statement's SQL with peewee costs more CPU than the MySQL round trip
it makes (bench/RESULTS.md: about 0.3 ms for the counter's SELECT, more for a
join), and the hot statements never change shape. So each is built once per
database, with `slot()` where a value goes, and from then on run as its SQL
with parameters, through the same connection handling as every other query
(the pool, the dead-connection retry, peewee's error translation).

Rows come back as peewee model instances built straight from the selected
columns, each value through its field's own `python_value`, as peewee would.
A wide row can be selected `packed()`, as one JSON array column: PyMySQL
parses every column's description in Python, and for the users row that is
most of the query's cost (bench/RESULTS.md: 224 µs of client CPU per query
for its 18 columns, 93 µs as one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import peewee as pw

from service import db

M = TypeVar("M", bound=pw.Model)


class Slot:
    """A value supplied when the statement runs, converted as `field` converts its values."""

    __slots__ = ("convert", "name")

    def __init__(self, name: str, field: pw.Field | None) -> None:
        self.name = name
        self.convert: Callable[[Any], Any] | None = field.db_value if field is not None else None


def slot(name: str, field: pw.Field | None = None) -> pw.Node:
    """A parameter in a statement's SQL; `converter=False` keeps peewee from converting it."""
    return pw.Value(Slot(name, field), converter=False)


class Statement:
    """One statement: `build()` makes the peewee query; its SQL is compiled per database.

    The SQL is kept with the database object it was compiled for, and compiled
    again when the process's database is another (the tests switch), so it is
    never run against another dialect.
    """

    def __init__(self, build: Callable[[], pw.Query]) -> None:
        self._build = build
        self._compiled: tuple[pw.Database | None, str, list[Any]] = (None, "", [])

    def _sql(self) -> tuple[str, list[Any]]:
        real = db.database.obj
        compiled_for, sql, params = self._compiled  # replaced whole: threads never see half
        if compiled_for is not real:
            sql, params = self._build().sql()
            self._compiled = (real, sql, params)
        return sql, params

    def execute(self, **values: Any) -> Any:
        """The driver's cursor, after running the statement with `values` in its slots."""
        sql, template = self._sql()
        params = [_fill(p, values) for p in template]
        return db.database.execute_sql(sql, params)


def _fill(param: Any, values: dict[str, Any]) -> Any:
    if not isinstance(param, Slot):
        return param
    value = values[param.name]
    return param.convert(value) if param.convert is not None and value is not None else value


class Variants:
    """Statements of one kind that differ by which columns they touch, built as first needed."""

    def __init__(self, build: Callable[[frozenset[str]], pw.Query]) -> None:
        self._build = build
        self._statements: dict[frozenset[str], Statement] = {}

    def __getitem__(self, names: Iterable[str]) -> Statement:
        key = frozenset(names)
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements.setdefault(key, Statement(lambda: self._build(key)))
        return statement


def columns(*sources: type[pw.Model] | pw.Field) -> list[pw.Field]:
    """A selection, models expanded to their fields in peewee's order (the order `select` uses)."""
    fields: list[pw.Field] = []
    for source in sources:
        if isinstance(source, type) and issubclass(source, pw.Model):
            fields.extend(source._meta.sorted_fields)
        else:
            fields.append(source)
    return fields


def instance(model: type[M], fields: Sequence[pw.Field], values: Sequence[Any]) -> M:
    """A model instance as peewee's cursor wrapper makes one: clean, values converted."""
    obj = model(__no_default__=1)
    data = obj.__data__
    for field, value in zip(fields, values, strict=True):
        convert: Callable[[Any], Any] = field.python_value
        data[field.name] = convert(value) if value is not None else None
    return obj


def packed(fields: Sequence[pw.Field]) -> pw.Node:
    """`fields` as one column, a JSON array (MySQL 5.7+, MariaDB 10.2+, SQLite 3.38+ and JSON1).

    Only for fields whose values JSON keeps: integers, strings, NULL, and
    DATETIME, which arrives as its text and goes through the field's own
    parsing as SQLite's always does.
    """
    return pw.fn.JSON_ARRAY(*fields)


def unpacked(value: str | bytes) -> list[Any]:
    values: list[Any] = json.loads(value)
    return values

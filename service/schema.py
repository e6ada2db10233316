"""The live MySQL schema as DDL, in one normalised form.

`SHOW CREATE TABLE` words the same table differently on MySQL 8 and MariaDB
(integer display widths, quoted defaults, collation names), so `schema.sql`
is rendered from `information_schema` instead: a migrated database gives the
same text on either server, and the reviewed file can be compared with it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from service import db

_INT_WIDTH = re.compile(r"^(smallint|mediumint|int|bigint)\(\d+\)")
HEADER = (
    "-- The schema that `flask db upgrade` produces on MySQL, rendered by `flask db schema`.\n"
    "-- Generated: edit the migrations, never this file.\n"
)


def _rows(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return list(db.database.execute_sql(sql, params).fetchall())


def _column_type(raw: str) -> str:
    # MySQL 8 dropped display widths; tinyint(1) is the one both still show.
    return _INT_WIDTH.sub(r"\1", raw.lower())


def _collation(name: str | None) -> str:
    """A binary collation, which decides what counts as the same identifier, is shown; the
    database's default for text is not, since it differs by server (MySQL 8 and MariaDB
    name their case-insensitive defaults differently) while meaning the same to us."""
    return f" COLLATE {name}" if name and name.endswith("_bin") else ""


def _default(raw: Any, nullable: bool) -> str:
    if raw is None or raw == "NULL":  # MariaDB reports a missing default as the text NULL
        return " DEFAULT NULL" if nullable else ""
    text = str(raw)
    if len(text) >= 2 and text[0] == text[-1] == "'":  # MariaDB quotes string defaults
        text = text[1:-1]
    if text.upper().startswith("CURRENT_TIMESTAMP"):
        return f" DEFAULT {text.upper()}"
    return " DEFAULT '{}'".format(text.replace("'", "''"))


def _columns(table: str) -> list[str]:
    lines = []
    for name, ctype, collation, nullable, default, extra in _rows(
        "SELECT COLUMN_NAME, COLUMN_TYPE, COLLATION_NAME, IS_NULLABLE, COLUMN_DEFAULT, EXTRA "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s "
        "ORDER BY ORDINAL_POSITION",
        table,
    ):
        is_null = nullable == "YES"
        line = f"  `{name}` {_column_type(ctype)}{_collation(collation)}"
        line += "" if is_null else " NOT NULL"
        line += _default(default, is_null)
        if "auto_increment" in str(extra).lower():
            line += " AUTO_INCREMENT"
        lines.append(line)
    return lines


def _keys(table: str) -> list[str]:
    indexes: dict[str, list[str]] = defaultdict(list)
    unique: dict[str, bool] = {}
    for name, non_unique, column in _rows(
        "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY SEQ_IN_INDEX",
        table,
    ):
        indexes[name].append(f"`{column}`")
        unique[name] = int(non_unique) == 0
    lines = []
    if "PRIMARY" in indexes:
        lines.append(f"  PRIMARY KEY ({','.join(indexes.pop('PRIMARY'))})")
    for name in sorted(indexes):
        kind = "UNIQUE KEY" if unique[name] else "KEY"
        lines.append(f"  {kind} `{name}` ({','.join(indexes[name])})")
    return lines


def _foreign_keys(table: str) -> list[str]:
    rows = _rows(
        "SELECT k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, "
        "k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE "
        "FROM information_schema.KEY_COLUMN_USAGE k "
        "JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
        "ON r.CONSTRAINT_SCHEMA = k.TABLE_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
        "WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = %s "
        "AND k.REFERENCED_TABLE_NAME IS NOT NULL",
        table,
    )
    lines = []
    for name, column, ref_table, ref_column, on_update, on_delete in sorted(rows):
        line = (
            f"  CONSTRAINT `{name}` FOREIGN KEY (`{column}`) "
            f"REFERENCES `{ref_table}` (`{ref_column}`)"
        )
        if on_delete != "RESTRICT":
            line += f" ON DELETE {on_delete}"
        if on_update != "RESTRICT":
            line += f" ON UPDATE {on_update}"
        lines.append(line)
    return lines


def render() -> str:
    """The connected MySQL database's tables as `CREATE TABLE` statements, sorted by name."""
    if not db.is_mysql():
        raise RuntimeError("the schema is rendered from MySQL; point DATABASE_URL at one")
    statements = [HEADER]
    tables = _rows(
        "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'"
    )
    # Sorted here, not by the server: MySQL and MariaDB collate these names differently.
    for table, engine, collation in sorted(tables, key=lambda row: str(row[0]).lower()):
        charset = str(collation).split("_", 1)[0]
        body = ",\n".join(_columns(table) + _keys(table) + _foreign_keys(table))
        statements.append(
            f"CREATE TABLE `{table}` (\n{body}\n) ENGINE={engine} DEFAULT CHARSET={charset};\n"
        )
    return "\n".join(statements)

"""The reviewed schema.sql is exactly what the migrations build on MySQL, and which
columns compare exactly there."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from service import db, migrations, schema
from service.models import EXACT, MODELS, User
from tests.support.apps import AppFactory
from tests.support.databases import MySQLDatabase
from tests.support.live_server import PROJECT_ROOT
from tests.support.mysql import MySQLServer
from tests.support.rows import snapshot

#: The reviewed schema: what the migrations must build, and what `flask db schema` must print.
COMMITTED = (PROJECT_ROOT / "schema.sql").read_text(encoding="utf-8")


def test_fresh_database_upgraded_by_the_cli_equals_schema_sql(
    app: Flask, runner: FlaskCliRunner
) -> None:
    migrations.downgrade(len(migrations.status().applied))  # back to a database with no tables
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert schema.render() == COMMITTED, "schema.sql is stale: run `flask db schema -o schema.sql`"


def test_every_table_is_utf8mb4(app: Flask) -> None:
    collations = table_collations()
    assert len(collations) == COMMITTED.count("CREATE TABLE ")
    assert all(c.startswith("utf8mb4_") for c in collations.values()), collations


def test_schema_command_prints_the_ddl(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["db", "schema"])
    assert result.exit_code == 0, result.output
    assert result.output == COMMITTED


def test_schema_command_writes_a_file(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    target = tmp_path / "schema.sql"
    result = runner.invoke(args=["db", "schema", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == COMMITTED


def column_collations() -> dict[tuple[str, str], str]:
    """(table, column) -> collation, for every text column."""
    rows = db.database.execute_sql(
        "SELECT TABLE_NAME, COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND COLLATION_NAME IS NOT NULL"
    ).fetchall()
    return {(table, column): collation for table, column, collation in rows}


def table_collations() -> dict[str, str]:
    rows = db.database.execute_sql(
        "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE()"
    ).fetchall()
    return dict(rows)


def assert_identifiers_exact_and_text_as_its_table() -> None:
    """Each model's text column has the collation its field declares, or else its table's."""
    columns, tables = column_collations(), table_collations()
    expected = {
        (model._meta.table_name, field.column_name): field.collation
        or tables[model._meta.table_name]
        for model in MODELS
        for field in model._meta.sorted_fields
        if (model._meta.table_name, field.column_name) in columns
    }
    assert {key: columns[key] for key in expected} == expected
    assert ("users", "openid") in expected
    assert expected[("users", "openid")] == EXACT


def test_identifier_columns_are_exact_and_human_text_keeps_its_tables_collation(
    app: Flask,
) -> None:
    assert_identifiers_exact_and_text_as_its_table()
    assert column_collations()[("users", "nickname")] == "utf8mb4_unicode_ci"  # the suite's


@pytest.mark.parametrize(
    "default",
    [
        "utf8mb4_unicode_ci",  # what the compose files and the suite give
        "utf8mb4_general_ci",  # MariaDB's default for utf8mb4
        "utf8mb4_0900_ai_ci",  # MySQL 8's default for utf8mb4
        "utf8mb4_bin",
    ],
)
def test_a_fresh_database_gets_exact_identifiers_whatever_its_default(
    make_app: AppFactory, mysql_server: MySQLServer, database: MySQLDatabase, default: str
) -> None:
    if not mysql_server.execute("SHOW COLLATION WHERE Collation = %s", default):
        pytest.skip(f"this server has no collation {default}")
    mysql_server.execute(
        f"ALTER DATABASE `{database.name}` CHARACTER SET utf8mb4 COLLATE {default}"
    )
    make_app(migrated=False)
    migrations.upgrade()
    assert set(table_collations().values()) == {default}
    assert_identifiers_exact_and_text_as_its_table()


def test_the_downgrade_refuses_values_the_old_collation_would_merge(
    app: Flask, runner: FlaskCliRunner
) -> None:
    """Two openids differing only in case: the case-insensitive unique index cannot hold
    both, so the downgrade stops before changing anything, saying why in one line."""
    applied = migrations.status().applied
    later = applied[applied.index("006_exact_identifiers") + 1 :]
    migrations.downgrade(len(later))  # 006_exact_identifiers is the last one applied now
    for openid in ("oTwinInCase", "OTWININCASE", "oSingle"):
        User.create(openid=openid)
    existing = [m for m in MODELS if m._meta.table_name in db.database.get_tables()]
    collations, rows = column_collations(), snapshot(existing)
    result = runner.invoke(args=["db", "downgrade"])
    assert result.exit_code == 1
    assert "users.openid holds 1 group(s) of values that utf8mb4_unicode_ci calls equal" in (
        result.output
    )
    assert migrations.status().applied[-1] == "006_exact_identifiers"
    assert (column_collations(), snapshot(existing)) == (collations, rows)

    User.delete().where(User.openid == "OTWININCASE").execute()
    assert migrations.downgrade() == ["006_exact_identifiers"]
    assert column_collations()[("users", "openid")] == "utf8mb4_unicode_ci"
    assert sorted(User.select(User.openid).tuples()) == [("oSingle",), ("oTwinInCase",)]

"""The reviewed schema.sql is exactly what the migrations build on MySQL."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskCliRunner

from service import migrations, schema
from tests.support.live_server import PROJECT_ROOT


def test_fresh_database_upgraded_by_the_cli_equals_schema_sql(
    app: Flask, runner: FlaskCliRunner
) -> None:
    migrations.downgrade(len(migrations.status().applied))  # back to a database with no tables
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    committed = (PROJECT_ROOT / "schema.sql").read_text(encoding="utf-8")
    assert schema.render() == committed, "schema.sql is stale: run `flask db schema -o schema.sql`"


def test_every_table_is_utf8mb4(app: Flask) -> None:
    rendered = schema.render()
    tables = rendered.count("CREATE TABLE")
    assert tables >= 2
    assert rendered.count("DEFAULT CHARSET=utf8mb4;") == tables

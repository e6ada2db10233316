"""The reviewed schema.sql is exactly what the migrations build on MySQL."""

from __future__ import annotations

from pathlib import Path

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


def test_schema_command_prints_the_ddl(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["db", "schema"])
    assert result.exit_code == 0, result.output
    assert result.output == schema.render()


def test_schema_command_writes_a_file(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    target = tmp_path / "schema.sql"
    result = runner.invoke(args=["db", "schema", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == schema.render()

"""`flask db migrate` turns a model change into a migration, in a temporary copy of the project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import peewee as pw

from service import migrations
from tests.support.live_server import PROJECT_ROOT

MIGRATION_NAMES = sorted(p.stem for p in migrations.MIGRATIONS_DIR.glob("[0-9][0-9][0-9]_*.py"))


def flask_cli(project: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(project)}
    env.pop("FLASK_APP", None)
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrate_writes_exactly_the_added_column(tmp_path: Path, file_database_url: str) -> None:
    """A developer adds a field, runs `flask db migrate -m x`, and gets that column only."""
    project = tmp_path / "project"
    for part in ("service", "migrations"):
        skip = shutil.ignore_patterns("__pycache__")
        shutil.copytree(PROJECT_ROOT / part, project / part, ignore=skip)
    shutil.copy(PROJECT_ROOT / "wsgi.py", project / "wsgi.py")
    models = project / "service" / "models.py"
    source = models.read_text(encoding="utf-8")
    marker = "    count = pw.IntegerField(default=0)\n"
    assert marker in source
    models.write_text(
        source.replace(marker, marker + "    label = pw.CharField(max_length=40, null=True)\n"),
        encoding="utf-8",
    )

    made = flask_cli(project, file_database_url, "db", "migrate", "-m", "x")
    assert made.returncode == 0, made.stderr
    new_files = sorted(
        {p.name for p in (project / "migrations").glob("*.py")}
        - {f"{n}.py" for n in MIGRATION_NAMES}
    )
    assert new_files == [f"{len(MIGRATION_NAMES) + 1:03}_x.py"]
    text = (project / "migrations" / new_files[0]).read_text(encoding="utf-8")
    assert "migrator.add_fields(" in text
    assert "label=pw.CharField(max_length=40, null=True)" in text
    assert "migrator.remove_fields('Counters', 'label')" in text
    assert text.count("Field(") == 1  # that column, nothing else

    applied = flask_cli(project, file_database_url, "db", "upgrade")
    assert applied.returncode == 0, applied.stderr
    assert f"applied {new_files[0][:-3]}" in applied.stdout
    database = pw.SqliteDatabase(file_database_url.removeprefix("sqlite:///"))
    assert "label" in {c.name for c in database.get_columns("Counters")}
    database.close()
    rolled = flask_cli(project, file_database_url, "db", "downgrade")
    assert rolled.returncode == 0, rolled.stderr
    assert "label" not in {c.name for c in database.get_columns("Counters")}
    database.close()

"""`flask db migrate` turns a model change into a migration, in a temporary copy of the project.

This is the command as a developer runs it: a process that finds the app and
reads the edited models.py. What the migration holds for each kind of change
is tested in process, and on both databases, in test_migrations.py.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import peewee as pw

from service import migrations
from tests.support.live_server import PROJECT_ROOT
from tests.support.tools import untraced

MIGRATION_NAMES = sorted(p.stem for p in migrations.MIGRATIONS_DIR.glob("[0-9][0-9][0-9]_*.py"))


def flask_cli(project: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**untraced(), "DATABASE_URL": database_url, "PYTHONPATH": str(project)}
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


def project_with(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the project whose models.py has `old` replaced by `new`."""
    project = tmp_path / "project"
    # Compiled modules too: they stay valid for the unchanged files (copied with their
    # times), so each `flask` run compiles models.py only, not the whole package.
    shutil.copytree(PROJECT_ROOT / "service", project / "service")
    shutil.copy(PROJECT_ROOT / "wsgi.py", project / "wsgi.py")
    models = project / "service" / "models.py"
    source = models.read_text(encoding="utf-8")
    assert old in source
    models.write_text(source.replace(old, new), encoding="utf-8")
    return project


def test_migrate_writes_exactly_the_added_column(tmp_path: Path) -> None:
    """A developer adds a field, runs `flask db migrate -m x`, and gets that column only."""
    database_file = tmp_path / "project.sqlite3"
    database_url = f"sqlite:///{database_file}"
    marker = "    count = pw.IntegerField(default=0)\n"
    project = project_with(
        tmp_path, marker, marker + "    label = pw.CharField(max_length=40, null=True)\n"
    )

    made = flask_cli(project, database_url, "db", "migrate", "-m", "x")
    assert made.returncode == 0, made.stderr
    new_files = sorted(
        {p.name for p in (project / "service" / "migrations").glob("[0-9]*.py")}
        - {f"{n}.py" for n in MIGRATION_NAMES}
    )
    assert new_files == [f"{len(MIGRATION_NAMES) + 1:03}_x.py"]
    text = (project / "service" / "migrations" / new_files[0]).read_text(encoding="utf-8")
    assert "migrator.add_fields(" in text
    assert "label=pw.CharField(max_length=40, null=True)" in text
    assert "migrator.remove_fields('Counters', 'label')" in text
    assert text.count("Field(") == 1  # that column, nothing else

    applied = flask_cli(project, database_url, "db", "upgrade")
    assert applied.returncode == 0, applied.stderr
    assert f"applied {new_files[0][:-3]}" in applied.stdout
    database = pw.SqliteDatabase(str(database_file))
    assert "label" in {c.name for c in database.get_columns("Counters")}
    database.close()
    rolled = flask_cli(project, database_url, "db", "downgrade")
    assert rolled.returncode == 0, rolled.stderr
    assert "label" not in {c.name for c in database.get_columns("Counters")}
    database.close()

"""Migrations build the schema, and undo it, on whichever database the suite provides.

The integration suite runs this module again on MySQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import peewee as pw
import pymysql
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from service import db, migrations, models
from service.models import (
    MODELS,
    AuthSession,
    Counter,
    Notification,
    PushMessage,
    RateLimit,
    RefreshToken,
    SubscribePermission,
    User,
    utcnow,
)
from tests.support.databases import Database
from tests.support.live_server import PROJECT_ROOT
from tests.support.rows import snapshot

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


def migration_names(where: Path = migrations.MIGRATIONS_DIR) -> list[str]:
    return sorted(p.stem for p in where.glob("[0-9][0-9][0-9]_*.py"))


def copied_migrations(tmp_path: Path) -> Path:
    """The package's migrations in a folder a test may add to."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, copy)
    return copy


MIGRATION_NAMES = migration_names()


def table_names() -> set[str]:
    return {t for t in db.database.get_tables() if t != "migratehistory"}


def assert_tables_are_the_models() -> None:
    """The database's tables and columns are those of service/models.py, no more, no fewer."""
    assert table_names() == {m._meta.table_name for m in MODELS}
    for model in MODELS:
        columns = {c.name for c in db.database.get_columns(model._meta.table_name)}
        fields = {f.column_name for f in model._meta.sorted_fields}
        assert columns == fields, model.__name__


def test_models_and_migrated_database_agree(app: Flask) -> None:
    assert_tables_are_the_models()


def test_every_migration_is_applied_once(app: Flask) -> None:
    state = migrations.status()
    assert state.applied == MIGRATION_NAMES
    assert state.pending == []
    assert migrations.upgrade() == []


def test_upgrade_down_to_nothing_and_up_again(app: Flask) -> None:
    rolled = migrations.downgrade(len(MIGRATION_NAMES))
    assert rolled == list(reversed(MIGRATION_NAMES))
    assert table_names() == set()
    assert migrations.status().pending == MIGRATION_NAMES
    assert migrations.downgrade() == []

    assert migrations.upgrade() == MIGRATION_NAMES
    assert_tables_are_the_models()


def test_cli_reports_history_and_current(app: Flask, runner: FlaskCliRunner) -> None:
    migrations.downgrade()
    history = runner.invoke(args=["db", "history"])
    assert history.exit_code == 0, history.output
    lines = history.output.splitlines()
    assert lines[-1] == f"[ ] {MIGRATION_NAMES[-1]}"
    assert all(line.startswith("[x] ") for line in lines[:-1])

    current = runner.invoke(args=["db", "current"])
    expected = MIGRATION_NAMES[-2] if len(MIGRATION_NAMES) > 1 else "(none applied)"
    assert current.output.strip() == expected


def test_cli_upgrade_and_downgrade(app: Flask, runner: FlaskCliRunner) -> None:
    down = runner.invoke(args=["db", "downgrade", str(len(MIGRATION_NAMES))])
    assert down.exit_code == 0, down.output
    assert down.output.splitlines() == [f"rolled back {n}" for n in reversed(MIGRATION_NAMES)]
    assert runner.invoke(args=["db", "downgrade"]).output.strip() == "nothing to roll back"

    up = runner.invoke(args=["db", "upgrade"])
    assert up.exit_code == 0, up.output
    assert up.output.splitlines() == [f"applied {n}" for n in MIGRATION_NAMES]
    assert runner.invoke(args=["db", "upgrade"]).output.strip() == "nothing to apply"


def test_cli_refuses_zero_steps(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["db", "downgrade", "0"])
    assert result.exit_code != 0
    assert migrations.status().pending == []


def test_migrate_finds_nothing_when_models_match(app: Flask, tmp_path: Path) -> None:
    copy = copied_migrations(tmp_path)
    assert migrations.create("nothing", migrate_dir=copy) is None
    assert sorted(p.name for p in copy.glob("[0-9]*.py")) == [f"{n}.py" for n in MIGRATION_NAMES]


class LabelledCounter(Counter):
    """The counter model as a developer might change it: one column more."""

    label = pw.CharField(max_length=40, null=True)

    class Meta:
        table_name = "Counters"


def test_a_model_change_becomes_the_next_migration_and_applies(app: Flask, tmp_path: Path) -> None:
    copy = copied_migrations(tmp_path)
    changed = [LabelledCounter if model is Counter else model for model in MODELS]
    name = migrations.create("add_label", migrate_dir=copy, models=changed)
    assert name == f"{len(MIGRATION_NAMES) + 1:03}_add_label"
    text = (copy / f"{name}.py").read_text(encoding="utf-8")
    assert text.startswith(f'"""{name}: created by `flask db migrate`."""\n')
    assert "label=pw.CharField(max_length=40, null=True)" in text
    assert "migrator.remove_fields('Counters', 'label')" in text

    assert migrations.upgrade(migrate_dir=copy) == [name]
    assert "label" in {c.name for c in db.database.get_columns("Counters")}
    assert migrations.downgrade(migrate_dir=copy) == [name]
    assert "label" not in {c.name for c in db.database.get_columns("Counters")}


def indexed_user() -> type[User]:
    """The user model as a developer might change it in place: unionid indexed.

    Named `User` like the model it stands for: peewee names indexes after the model.
    """

    class User(models.User):
        unionid = pw.CharField(max_length=64, null=True, index=True)

        class Meta:
            table_name = "users"

    return User


def unionid_indexed() -> bool:
    return any(index.columns == ["unionid"] for index in db.database.get_indexes("users"))


def test_an_added_index_becomes_exactly_that_migration_and_applies(
    app: Flask, tmp_path: Path
) -> None:
    copy = copied_migrations(tmp_path)
    changed = [indexed_user() if model is User else model for model in MODELS]
    name = migrations.create("index_unionid", migrate_dir=copy, models=changed)
    assert name == f"{len(MIGRATION_NAMES) + 1:03}_index_unionid"
    text = (copy / f"{name}.py").read_text(encoding="utf-8")
    body = text.split("def migrate(", 1)[1].split("def rollback(", 1)[0]
    calls = [line.strip() for line in body.splitlines() if line.strip().startswith("migrator.")]
    # The index, once; peewee-migrate also records the field's new state.
    assert [c for c in calls if "index" in c.split("(")[0]] == [
        "migrator.add_index('users', 'unionid', unique=False)"
    ]
    assert all(
        c.startswith(("migrator.add_index(", "migrator.change_fields('users', unionid="))
        for c in calls
    )
    assert "migrator.drop_index('users', 'unionid')" in text.split("def rollback(", 1)[1]

    assert migrations.upgrade(migrate_dir=copy) == [name]
    assert unionid_indexed()
    assert migrations.downgrade(migrate_dir=copy) == [name]
    assert not unionid_indexed()
    assert migrations.upgrade(migrate_dir=copy) == [name]
    assert unionid_indexed()


@pytest.mark.parametrize("message", ["", "   ", "drop; table", "../../escape", "a-b"])
def test_flask_db_migrate_refuses_a_message_that_cannot_name_a_file(
    runner: FlaskCliRunner, message: str
) -> None:
    result = runner.invoke(args=["db", "migrate", "-m", message])
    assert result.exit_code == 2
    assert "use letters, digits and spaces" in result.output
    assert migration_names() == MIGRATION_NAMES


def test_flask_db_migrate_writes_nothing_when_the_models_match(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["db", "migrate", "-m", "Nothing new"])
    assert (result.exit_code, result.output) == (0, "no changes: the models match the migrations\n")
    assert migration_names() == MIGRATION_NAMES


def test_concurrent_upgrades_apply_each_migration_once(tmp_path: Path, database: Database) -> None:
    """Two instances starting at once: both succeed, one applies, the other finds nothing left."""
    shared_url = database.shared_url(tmp_path)
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "db", "upgrade"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DATABASE_URL": shared_url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = []
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        outputs.append(out)
    applied = [line for out in outputs for line in out.splitlines() if line.startswith("applied ")]
    assert sorted(applied) == [f"applied {n}" for n in MIGRATION_NAMES]
    assert any("nothing to apply" in out.splitlines() for out in outputs)


def test_start_up_waits_for_a_database_that_is_still_waking(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cloud Run's serverless MySQL refuses connections for a while after waking up."""
    real_upgrade = migrations.upgrade
    calls: list[int] = []
    naps: list[float] = []

    def waking_upgrade() -> list[str]:
        calls.append(1)
        if len(calls) < 3:
            raise pw.OperationalError('(2003, "Can\'t connect to MySQL server")')
        return real_upgrade()

    monkeypatch.setattr(migrations, "upgrade", waking_upgrade)
    migrations.downgrade(len(MIGRATION_NAMES))
    assert migrations.upgrade_on_start(attempts=5, delay=0.5, sleep=naps.append) == MIGRATION_NAMES
    assert (len(calls), naps) == (3, [0.5, 0.5])


def test_start_up_gives_up_after_the_last_attempt(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable() -> list[str]:
        raise pw.OperationalError("unreachable")

    monkeypatch.setattr(migrations, "upgrade", unreachable)
    naps: list[float] = []
    with pytest.raises(
        migrations.MigrationError, match=r"still unreachable after 3 attempts: unreachable$"
    ):
        migrations.upgrade_on_start(attempts=3, delay=2.0, sleep=naps.append)
    assert naps == [2.0, 2.0]  # between the attempts, none after the last


@pytest.mark.parametrize(
    ("code", "message", "fix"),
    [
        (1049, "Unknown database 'nope'", "create the database"),
        (1045, "Access denied for user 'app'@'10.0.0.9' (using password: YES)", "MYSQL_PASSWORD"),
        (1044, "Access denied for user 'app'@'%' to database 'x'", "grant MYSQL_USERNAME"),
    ],
)
def test_start_up_stops_at_once_on_what_no_retry_can_fix(
    app: Flask, monkeypatch: pytest.MonkeyPatch, code: int, message: str, fix: str
) -> None:
    """Retrying an unknown database or a wrong password only delays the one line that says so."""
    calls: list[int] = []

    def refused() -> list[str]:
        calls.append(1)
        inner = pymysql.err.OperationalError(code, message)
        raise pw.OperationalError(inner, *inner.args)

    monkeypatch.setattr(migrations, "upgrade", refused)
    naps: list[float] = []
    with pytest.raises(migrations.MigrationError) as raised:
        migrations.upgrade_on_start(attempts=15, delay=2, sleep=naps.append)
    assert (len(calls), naps) == (1, [])
    line = str(raised.value)
    assert f"OperationalError {code}: {message}; retrying cannot fix this: " in line
    assert fix in line
    assert "\n" not in line


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_a_missing_or_empty_migrations_directory_is_an_error(
    app: Flask, tmp_path: Path, state: str
) -> None:
    where = tmp_path / "migrations"
    if state == "empty":
        where.mkdir()
        (where / "__init__.py").write_text("")
    with pytest.raises(migrations.MigrationError, match="no migration files in"):
        migrations.upgrade(migrate_dir=where)
    with pytest.raises(migrations.MigrationError, match="installation is incomplete"):
        migrations.status(migrate_dir=where)


def test_flask_db_upgrade_says_so_in_one_line(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", tmp_path / "nowhere")
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 1
    assert "nothing to apply" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "no migration files in" in lines[0]
    assert "Traceback" not in result.output


def test_the_migrations_ship_inside_the_package() -> None:
    import service

    assert migrations.MIGRATIONS_DIR.parent == Path(service.__file__).parent
    assert len(MIGRATION_NAMES) >= 4


def test_a_failing_migration_names_its_file_and_line(app: Flask, tmp_path: Path) -> None:
    """The traceback of a broken migration points into that file, with its source line."""
    copy = copied_migrations(tmp_path)
    broken = copy / f"{len(MIGRATION_NAMES) + 1:03}_broken.py"
    broken.write_text(
        "def migrate(migrator, database, *, fake=False):\n"
        "    # 注释: a comment in UTF-8, whatever the locale\n"
        "    raise LookupError('the broken step')\n",
        encoding="utf-8",
    )
    with pytest.raises(LookupError, match="the broken step") as failure:
        migrations.upgrade(migrate_dir=copy)
    where = failure.traceback[-1]
    assert (Path(where.path), where.lineno + 1) == (broken, 3)
    assert "raise LookupError" in str(where.statement)
    assert migrations.status(migrate_dir=copy).pending == [broken.stem]


EXACT_IDENTIFIERS = "006_exact_identifiers"
#: The migrations after it, rolled back first and applied again with it.
LATER = MIGRATION_NAMES[MIGRATION_NAMES.index(EXACT_IDENTIFIERS) + 1 :]
#: The tables that 006 found.
BEFORE_LATER = [m for m in MODELS if m not in (SubscribePermission, Notification)]
OPENID = "oMigrateCase000000000000000"


def fill_every_table() -> None:
    """A row in each table, as the service writes them."""
    user = User.create(openid=OPENID, unionid="uMigrate", phone_number="+8613800007777")
    session = AuthSession.create(user=user, key="a" * 32)
    RefreshToken.create(session=session, token_hash="b" * 64, expires_at=utcnow())
    RateLimit.create(bucket="login-openid:1:" + "c" * 40, hits=1, expires_at=utcnow())
    PushMessage.create(dedupe_key=f"evt:{OPENID}:1:subscribe", from_user=OPENID, payload="{}")
    Counter.create(count=3)


def took(openid: str) -> bool:
    """Whether a user with `openid` could be added next to the ones there."""
    try:
        User.create(openid=openid)
    except pw.IntegrityError:
        return False
    return True


def test_exact_identifiers_upgrade_and_downgrade_keep_the_rows_already_there(app: Flask) -> None:
    assert migrations.downgrade(len(LATER) + 1) == [*reversed(LATER), EXACT_IDENTIFIERS]
    fill_every_table()
    twin = OPENID.swapcase()
    # Before: MySQL's case-insensitive unique index calls the twin the same openid.
    assert took(twin) is not db.is_mysql()
    before = snapshot(BEFORE_LATER)

    assert migrations.upgrade() == [EXACT_IDENTIFIERS, *LATER]
    assert snapshot(BEFORE_LATER) == before
    if db.is_mysql():
        assert took(twin)  # now another user, as on SQLite all along
    assert sorted(User.select(User.openid).tuples()) == sorted([(OPENID,), (twin,)])

    User.delete().where(User.openid == twin).execute()  # else MySQL refuses: test_schema.py
    after = snapshot(BEFORE_LATER)
    assert migrations.downgrade(len(LATER) + 1) == [*reversed(LATER), EXACT_IDENTIFIERS]
    assert snapshot(BEFORE_LATER) == after
    assert took(twin) is not db.is_mysql()

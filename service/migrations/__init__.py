"""Schema migrations: the peewee-migrate files beside this module, applied safely.

The files ship inside the package, so an installed wheel migrates as a
checkout does.

Tables are only ever made by these migrations, in production, in the
integration suite and in unit tests alike, so all three share one schema.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee as pw
from peewee_migrate import Router
from peewee_migrate.router import void

from service import db
from service.models import MODELS

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent
LOCK_NAME = "service.migrations"
LOCK_TIMEOUT_SECONDS = 300

TEMPLATE = '''"""{name}: created by `flask db migrate`."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
{migrate}


def rollback(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
{rollback}
'''


class MigrationError(RuntimeError):
    pass


class _Router(Router):
    """peewee-migrate's file router, writing migrations that pass our linters."""

    def compile(
        self, name: str, migrate: str = "", rollback: str = "", num: int | None = None
    ) -> str:
        if num is None:
            num = len(self.todo)
        stem = f"{num + 1:03}_{name}"
        body = {
            "migrate": migrate.strip("\n") or "    pass",
            "rollback": rollback.strip("\n") or "    pass",
        }
        path = self.migrate_dir / f"{stem}.py"
        path.write_text(TEMPLATE.format(name=stem, **body), encoding="utf-8")
        return stem

    def read(self, name: str) -> tuple[Any, Any]:
        """The file's migrate() and rollback(), compiled under the file's own path.

        peewee-migrate compiles each file as "<string>": a migration that fails
        then shows a traceback with no file and no source lines, and coverage
        cannot see the migrations run. It also reads them in the locale's encoding.
        """
        path = self.migrate_dir / f"{name}.py"
        scope: dict[str, Any] = {"__file__": str(path), "__name__": f"migrations.{name}"}
        code = compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
        exec(code, scope)  # noqa: S102 - a migration file of this package, as peewee-migrate does
        return scope.get("migrate", void), scope.get("rollback", void)


def router(migrate_dir: Path | None = None, *, must_exist: bool = True) -> Router:
    """The router for `migrate_dir`; with `must_exist`, a missing or empty one is an error.

    peewee-migrate treats a missing directory as "nothing to apply", which on
    a broken install would leave an empty database that looks migrated.
    """
    where = migrate_dir or MIGRATIONS_DIR
    if must_exist and not (where.is_dir() and any(where.glob("[0-9][0-9][0-9]_*.py"))):
        raise MigrationError(
            f"no migration files in {where}: the installation is incomplete "
            "(service/migrations/NNN_*.py ship with the package)"
        )
    # The abstract base model would otherwise be picked up as a table.
    return _Router(db.database, migrate_dir=where, ignore=["basemodel"])


@dataclass(frozen=True)
class Status:
    applied: list[str]
    pending: list[str]


def status(migrate_dir: Path | None = None) -> Status:
    r = router(migrate_dir)
    applied = list(r.done)
    return Status(applied=applied, pending=[n for n in r.todo if n not in set(applied)])


def pending(migrate_dir: Path | None = None) -> list[str]:
    """The migrations the database lacks: every one on a database that has none applied.

    For a readiness probe, so it writes nothing: peewee-migrate's router creates
    its history table when it reads it, so a database without one is answered
    from the files alone.
    """
    r = router(migrate_dir)
    if not db.database.table_exists(r.migrate_table):
        return list(r.todo)
    return list(r.diff)


@contextmanager
def _exclusive() -> Iterator[None]:
    """Hold a lock that every other migrating process respects.

    Cloud Run may start several instances at once. On MySQL a named lock
    (`GET_LOCK`, held by this connection) lets one of them migrate while the
    others wait, then find nothing left to do. On SQLite an exclusive
    transaction plays the same part across processes.
    """
    if not db.is_mysql():
        with db.database.atomic("EXCLUSIVE"):
            yield
        return
    database = db.database
    database.connect(reuse_if_open=True)
    got = database.execute_sql(
        "SELECT GET_LOCK(%s, %s)", (LOCK_NAME, LOCK_TIMEOUT_SECONDS)
    ).fetchone()[0]
    if got != 1:
        raise MigrationError(
            f"another process held the migration lock for over {LOCK_TIMEOUT_SECONDS} s"
        )
    try:
        yield
    finally:
        database.execute_sql("SELECT RELEASE_LOCK(%s)", (LOCK_NAME,))


def upgrade(migrate_dir: Path | None = None) -> list[str]:
    """Apply every pending migration; returns the names applied by this call."""
    with _exclusive():
        # A fresh router reads the applied list after the lock is ours.
        applied: list[str] = router(migrate_dir).run()
    for name in applied:
        log.info("migration applied: %s", name)
    return applied


def downgrade(steps: int = 1, migrate_dir: Path | None = None) -> list[str]:
    """Roll back the last `steps` applied migrations, newest first."""
    rolled: list[str] = []
    with _exclusive():
        for _ in range(steps):
            r = router(migrate_dir)
            done = list(r.done)
            if not done:
                break
            r.rollback()  # type: ignore[no-untyped-call]
            rolled.append(done[-1])
    for name in rolled:
        log.info("migration rolled back: %s", name)
    return rolled


def create(
    name: str,
    migrate_dir: Path | None = None,
    models: Sequence[type[pw.Model]] | None = None,
) -> str | None:
    """Write a migration for what the models have that the migrations lack; None if nothing."""
    created: str | None = router(migrate_dir, must_exist=False).create(
        name, auto=list(models or MODELS)
    )
    return created


def upgrade_on_start(
    attempts: int = 15,
    delay: float = 2.0,
    sleep: Callable[[float], object] | None = None,
) -> list[str]:
    """`upgrade()`, retried while the database cannot be reached.

    Cloud Run's serverless MySQL may refuse the first connections while it
    wakes up; giving up at once would crash-loop the instance instead. An
    error no wait can fix (db.permanent_error: credentials, no such database,
    an unknown host) stops at once, as a MigrationError saying what to correct.
    `sleep` is time.sleep, looked up when needed (after gevent may have patched
    it); a test passes its own to see the waits without waiting.
    """
    for attempt in range(1, attempts + 1):
        try:
            return upgrade()
        except db.UNAVAILABLE_ERRORS as error:
            if db.permanent_error(error) is not None:
                raise MigrationError(f"cannot use the database: {db.explain(error)}") from None
            if attempt == attempts:
                raise MigrationError(
                    f"the database was still unreachable after {attempts} attempts: "
                    f"{db.explain(error)}"
                ) from None
            log.warning(
                "database not reachable for migrations (%s), attempt %d of %d",
                db.explain(error),
                attempt,
                attempts,
            )
            db.close_connection()
            (sleep or time.sleep)(delay)
    return []  # pragma: no cover - the loop returns or raises

"""Where a run's tests keep their data: SQLite in memory, or one database on the run's MySQL.

Either way the migrations run once per process, into a template; each test's
app is then given a copy of the template's tables, which costs a fraction of
a millisecond on SQLite and one CREATE per table on MySQL. The `database`
fixture (tests/conftest.py) is one of these two classes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol, TypeVar

from service import create_app, db, migrations
from service.config import Config
from tests.support.mysql import MySQLServer, Snapshot

T = TypeVar("T")


class Database(Protocol):
    """What the fixtures need of a run's database, whichever kind it is."""

    kind: str  #: "sqlite" or "mysql"
    url: str  #: DATABASE_URL for the tests' apps

    def empty(self) -> None:
        """No tables: what a test starts from, before its app is built."""

    def drop_tables(self) -> None:
        """No tables, the database itself kept as it is (its default collation, say)."""

    def give_tables(self) -> None:
        """The migrations' tables in the app's database, which has none."""

    def shared_url(self, tmp_path: Path) -> str:
        """A database that several threads or processes can use at once."""

    def seed(self, key: str, build: Callable[[], T]) -> T:
        """What `build()` returned, and the app's database as it left it: made once per key."""


class SQLiteDatabase:
    """SQLite in memory: each app the factory builds opens a new, empty database of its own."""

    kind = "sqlite"
    url = "sqlite:///:memory:"

    def __init__(self) -> None:
        create_app(Config(database_url=self.url, testing=True))
        try:
            migrations.upgrade()
            self._template = self._copy()
        finally:
            db.dispose()
        self._seeds: dict[str, tuple[sqlite3.Connection, Any]] = {}

    def close(self) -> None:
        self._template.close()
        for copy, _ in self._seeds.values():
            copy.close()

    def empty(self) -> None:
        pass  # each app's in-memory database is new

    def drop_tables(self) -> None:
        pass

    def give_tables(self) -> None:
        if db.database.get_tables():  # a file an earlier app migrated: whatever is missing
            migrations.upgrade()
        else:  # the migrations' tables, copied: 5 ms against 30-40 ms to migrate a file
            self._paste(self._template)

    def shared_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'shared.sqlite3'}"

    def seed(self, key: str, build: Callable[[], T]) -> T:
        if not isinstance(db.database.obj, db.InMemorySqliteDatabase):
            return build()
        db.close_connection()
        saved = self._seeds.get(key)
        if saved is None:
            made = build()
            db.close_connection()
            self._seeds[key] = (self._copy(), made)
            return made
        copy, made = saved
        self._paste(copy)
        return made

    @staticmethod
    def _copy() -> sqlite3.Connection:
        """The app's in-memory database, copied with SQLite's backup API."""
        copy = sqlite3.connect(":memory:", check_same_thread=False)
        with closing(sqlite3.connect(db.database.obj.database, uri=True)) as live:
            live.backup(copy)
        return copy

    @staticmethod
    def _paste(copy: sqlite3.Connection) -> None:
        with closing(sqlite3.connect(db.database.obj.database, uri=True)) as live:
            copy.backup(live)


class MySQLDatabase:
    """One database on the run's MySQL server, emptied for each test."""

    kind = "mysql"

    def __init__(self, server: MySQLServer) -> None:
        self.server = server
        self.name = server.create_database()
        self.url = server.url(self.name)
        with server.scratch_database() as scratch:
            create_app(Config(database_url=server.url(scratch), testing=True))
            try:
                migrations.upgrade()
            finally:
                db.dispose()
            self._template = server.snapshot(scratch)
        self._seeds: dict[str, tuple[Snapshot, Any]] = {}

    def close(self) -> None:
        self.server.drop_database(self.name)

    def empty(self) -> None:
        self.server.drop_database(self.name)
        self.server.execute(
            f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )

    def drop_tables(self) -> None:
        self.server.drop_tables(self.name)

    def give_tables(self) -> None:
        real = db.database.obj
        if db.is_mysql() and real.database == self.name and not db.database.get_tables():
            self.server.restore(self.name, self._template)
            db.close_connection()
        else:
            migrations.upgrade()

    def shared_url(self, tmp_path: Path) -> str:
        """This database, emptied: MySQL is shared by design."""
        self.empty()
        return self.url

    def seed(self, key: str, build: Callable[[], T]) -> T:
        if not (db.is_mysql() and db.database.obj.database == self.name):
            return build()
        db.close_connection()
        saved = self._seeds.get(key)
        if saved is None:
            made = build()
            db.close_connection()
            self._seeds[key] = (self.server.snapshot(self.name), made)
            return made
        copy, made = saved
        self.server.replace(self.name, copy)
        return made

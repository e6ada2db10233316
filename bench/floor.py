"""The driver floor: what the benchmarked requests cost when written by hand on raw PyMySQL.

The same routes as the service's hot paths, each one view doing one round
trip to MySQL with plain PyMySQL, from a small pool of connections written
here, in a few lines, as a user could write it: no ORM, no hooks, no
authentication. bench/run.py serves it under the same gunicorn.conf.py as the
service, drives it with the same requests, and divides: the ratio is what
everything the service adds (peewee, the pool, sign-in, validation, logging)
costs over one round trip of the driver.

    DATABASE_URL=mysql://user:password@host:3306/db gunicorn "bench.floor:create_app()"

The database is the service's, migrated (gunicorn.conf.py applies migrations
with AUTO_MIGRATE): the counter row and the benchmark's signed-in user exist.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import pymysql
from flask import Flask, Response, jsonify, request

#: Connections per worker process: the service's own default (MYSQL_POOL_SIZE).
POOL_SIZE = int(os.environ.get("MYSQL_POOL_SIZE", "16"))

#: The user the benchmark signs in first, in its fresh database.
BENCH_USER_ID = 1


class Pool:
    """At most `size` open connections; a request takes one and puts it back.

    Connections open lazily, so each gunicorn worker opens its own after the fork.
    """

    def __init__(self, url: str, size: int) -> None:
        parts = urlsplit(url)
        self.settings: dict[str, Any] = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 3306,
            "user": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "database": parts.path.lstrip("/"),
            "charset": "utf8mb4",
            "autocommit": True,
        }
        self.idle: queue.LifoQueue[pymysql.connections.Connection] = queue.LifoQueue()
        self.slots = queue.Queue[None](size)
        for _ in range(size):
            self.slots.put(None)

    @contextmanager
    def connection(self) -> Iterator[pymysql.connections.Connection]:
        self.slots.get()
        try:
            try:
                conn = self.idle.get_nowait()
            except queue.Empty:
                conn = pymysql.connect(**self.settings)
            try:
                yield conn
            except BaseException:
                conn.close()  # in an unknown state: not given to the next request
                raise
            self.idle.put(conn)
        finally:
            self.slots.put(None)

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        """One statement, one round trip: its first row by column name, if it returns rows."""
        with self.connection() as conn, conn.cursor(pymysql.cursors.DictCursor) as cursor:
            cursor.execute(sql, params)
            row: dict[str, Any] | None = cursor.fetchone()
            return row

    def changed(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """One write, one round trip: the value it gave LAST_INSERT_ID(), from its OK packet."""
        with self.connection() as conn, conn.cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.lastrowid)


def create_app() -> Flask:
    app = Flask(__name__)
    pool = Pool(os.environ["DATABASE_URL"], POOL_SIZE)

    def envelope(data: object) -> Response:
        return jsonify(code=1, data=data, msg="")

    @app.get("/api/count")
    def count() -> Response:
        row = pool.one("SELECT count FROM Counters WHERE id = 1")
        return envelope(row["count"] if row else 0)

    @app.post("/api/count")
    def inc() -> Response:
        body = request.get_json()
        if body.get("action") != "inc":
            return jsonify(code=0, data=None, msg="action"), 400  # type: ignore[return-value]
        value = pool.changed("UPDATE Counters SET count = LAST_INSERT_ID(count + 1) WHERE id = 1")
        return envelope(value)

    @app.get("/api/user/profile")
    def profile() -> Response:
        # The whole row, as the service reads it for a signed-in user.
        row = pool.one("SELECT * FROM users WHERE id = %s", (BENCH_USER_ID,))
        if row is None:
            return jsonify(code=0, data=None, msg="no such user"), 404  # type: ignore[return-value]
        return envelope(row)

    @app.patch("/api/user/profile")
    def edit_profile() -> Response:
        nickname = str(request.get_json().get("nickname", ""))
        pool.changed("UPDATE users SET nickname = %s WHERE id = %s", (nickname, BENCH_USER_ID))
        return envelope({"id": BENCH_USER_ID, "nickname": nickname})

    return app

"""The database: which one, how to reach it, and the connection per request.

Models are declared against `database`, a `DatabaseProxy`; the app factory
binds it to a real database. Production talks to MySQL through a bounded
pool; local runs and tests use SQLite.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import ssl
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

import peewee as pw
import pymysql
from flask import Flask
from playhouse.pool import MaxConnectionsExceeded, PooledDatabase
from pymysql.constants import CLIENT, SERVER_STATUS

from service.config import Config
from service.target import Target, resolve_target

log = logging.getLogger(__name__)

database = pw.DatabaseProxy()

#: Errors that mean "the database cannot be reached now", as opposed to a bug.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    pw.OperationalError,
    pw.InterfaceError,
    MaxConnectionsExceeded,
)

SQLITE_PRAGMAS = {"busy_timeout": 5000, "foreign_keys": 1}


class InMemorySqliteDatabase(pw.SqliteDatabase):
    """`sqlite:///:memory:` that outlives a single connection.

    A plain `:memory:` database vanishes when its connection closes, which the
    connection-per-request rule does after every request. A named shared-cache
    database lives as long as one connection to it is open, so this class keeps
    one open for its own lifetime.
    """

    def __init__(self, **kwargs: Any) -> None:
        name = f"file:service-{uuid.uuid4().hex}?mode=memory&cache=shared"
        super().__init__(name, uri=True, **kwargs)
        self._keeper = sqlite3.connect(name, uri=True, check_same_thread=False)

    def release(self) -> None:
        self.close()
        self._keeper.close()


def _use_wal(path: str, attempts: int = 50) -> None:
    """Put the file in WAL mode, so readers never wait for the writer.

    WAL is a property of the file, set once. Switching needs an exclusive lock
    and SQLite answers "locked" at once, without waiting, while another
    process is in a transaction, so two processes opening a new file together
    (two gunicorn workers) retry briefly here.
    """
    for attempt in range(attempts):
        try:
            with closing(sqlite3.connect(path, timeout=5)) as conn:
                conn.execute("PRAGMA journal_mode=wal")
            return
        except sqlite3.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)


#: The driver's codes for a connection that is gone: "server has gone away" (a send
#: failed), "lost connection during query", and 0, PyMySQL's closed socket.
LOST_CONNECTION = {2006, 2013, 0}
NOT_SENT = {2006, 0}
CANNOT_CONNECT = 2003
#: "SSL is required but the server doesn't support it" (PyMySQL's CR_SSL_CONNECTION_ERROR).
TLS_NOT_OFFERED = 2026
#: Statements that change nothing, so running one twice is harmless.
_READ_ONLY = ("SELECT", "SHOW", "BEGIN", "ROLLBACK")


def driver_error(error: BaseException) -> tuple[int | None, str]:
    """The driver's error code and message inside a peewee error (no secrets in either)."""
    inner = error.args[0] if error.args and isinstance(error.args[0], BaseException) else error
    args = inner.args
    code = args[0] if args and isinstance(args[0], int) else None
    message = str(args[1]) if len(args) > 1 else str(inner)
    return code, message


#: Driver codes no retry can fix, with what to correct.
PERMANENT_ERRORS = {
    1044: "grant MYSQL_USERNAME its rights on MYSQL_DATABASE (or DATABASE_URL's user and database)",
    1045: "check MYSQL_USERNAME and MYSQL_PASSWORD (or the user and password in DATABASE_URL)",
    1049: "create the database (CHARACTER SET utf8mb4), or correct MYSQL_DATABASE "
    "(or the database in DATABASE_URL)",
}
#: getaddrinfo's answers for a name that does not exist (EAI_AGAIN, a DNS hiccup, is retried).
_NO_SUCH_HOST = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


def _causes(error: BaseException) -> list[BaseException]:
    """`error`, the driver error peewee wraps in it, and what each was raised from."""
    found: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo and len(found) < 10:
        current = todo.pop()
        if current is None or current in found:
            continue
        found.append(current)
        wrapped = current.args[0] if current.args else None
        todo += [current.__cause__, current.__context__]
        todo += [wrapped] if isinstance(wrapped, BaseException) else []
    return found


def permanent_error(error: BaseException) -> str | None:
    """What to correct when retrying a connection cannot help; None when waiting might.

    Wrong credentials, a database that does not exist and a host name that does
    not resolve stay so however long start-up retries: they stop it at once.
    A refusal or a timeout may be a server waking up, and is retried.
    """
    code, _ = driver_error(error)
    if code in PERMANENT_ERRORS:
        return PERMANENT_ERRORS[code]
    for cause in _causes(error):
        if isinstance(cause, socket.gaierror) and cause.errno in _NO_SUCH_HOST:
            return "the host name does not resolve: correct MYSQL_ADDRESS (or DATABASE_URL)"
    return None


def explain(error: BaseException) -> str:
    """One line for a log or a terminal: the driver's code and message, and the fix if known."""
    code, message = driver_error(error)
    said = f"{type(error).__name__} {code}: {message}" if code is not None else message
    fix = permanent_error(error)
    return f"{said}; retrying cannot fix this: {fix}" if fix else said


def _refused(error: BaseException) -> bool:
    """Connection refused: nothing listens (yet). Not a timeout: a hang is not a refusal."""
    code, message = driver_error(error)
    return code == CANNOT_CONNECT and "refused" in message.lower()


def tls_context() -> ssl.SSLContext:
    """The context of PyMySQL's default mode (TLS offered, the server not verified), built once.

    Given no TLS settings, PyMySQL builds a default context for every connection,
    loading the system's CA certificates that this mode never consults (29 ms of
    CPU each). Passed as `ssl=`, one context serves every connection; no CA is
    loaded since none is checked. An SSLContext is safe to share between threads.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class DeferredMySQLDatabase(pw.MySQLDatabase):
    """MySQL whose `_connect` (peewee's documented hook) makes a connection without the network.

    peewee calls `_connect` under its database-wide lock (and a pool under its
    pool lock too), so a server that hangs or wakes up would make every other
    request wait in line. Here `_connect` only builds PyMySQL's connection
    object (`defer_connect=True`); `ConnectionPool.connect` opens it after the
    locks are released. Until peewee knows the server's version, which it reads
    from the connection `_connect` returns, `ConnectionPool.connect` opens one
    before taking the locks and `_connect` hands that one over (`opened`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        #: Whether the server offers TLS: unknown until the first connection says.
        self.tls_offered: bool | None = None
        self.tls = tls_context()
        #: Per thread: a connection opened before peewee's locks, for `_connect` to return.
        self.opened = threading.local()
        super().__init__(*args, **kwargs)

    def new_connection(self) -> pymysql.connections.Connection:
        """PyMySQL's connection object, not yet connected."""
        tls: dict[str, Any] = (
            {"ssl_disabled": True} if self.tls_offered is False else {"ssl": self.tls}
        )
        return pymysql.connections.Connection(
            database=self.database,
            autocommit=True,
            defer_connect=True,
            **tls,
            **self.connect_params,
        )

    def take_opened(self) -> pymysql.connections.Connection | None:
        """This thread's connection opened before the locks, if one waits; it is taken."""
        conn: pymysql.connections.Connection | None = getattr(self.opened, "conn", None)
        self.opened.conn = None
        return conn

    def _connect(self) -> pymysql.connections.Connection:
        return self.take_opened() or self.new_connection()


class ConnectionPool(PooledDatabase, DeferredMySQLDatabase):  # type: ignore[misc]
    """playhouse's pool over `DeferredMySQLDatabase`: the network is reached outside its locks.

    `PooledDatabase` is playhouse's documented mixin for pools of any backend.
    `PooledMySQLDatabase` adds a ping on every checkout and a ROLLBACK on every
    return, both round trips, made under the pool lock; here instead:
    - a connection idle for PING_AFTER seconds or more is pinged when taken,
      outside the locks; a failed ping reconnects it;
    - a read whose connection turns out dead on the checkout's first statement
      is run again on a new one (a write is not: it may have been applied);
    - a transaction left open is rolled back on return, only when the server
      says one is open.
    A refused connection is retried for `wake_timeout` seconds, also outside
    the locks: Cloud Run's MySQL refuses connections while it resumes.
    docs/upstream.md says which peewee change would make this class smaller.
    """

    PING_AFTER = 1.0

    def __init__(self, *args: Any, wake_timeout: float = 0.0, **kwargs: Any) -> None:
        self.wake_timeout = wake_timeout
        #: When each idle connection came back: a recent one needs no ping. Weak, so
        #: a connection the pool closes (stale, or dropped) takes its entry along.
        self.returned_at: weakref.WeakKeyDictionary[pymysql.connections.Connection, float] = (
            weakref.WeakKeyDictionary()
        )
        #: Per thread: whether its checkout has run a statement yet.
        self.checkout = threading.local()
        super().__init__(*args, **kwargs)

    def connect(self, reuse_if_open: bool = False) -> bool:
        deadline = time.monotonic() + self.wake_timeout
        delay = 0.1
        while True:
            try:
                first = self.server_version is None and self.is_closed()
                if first:
                    self.opened.conn = self.open_first()
                try:
                    if not super().connect(reuse_if_open):
                        return False
                finally:
                    if first:
                        self.discard_opened()
                self.open_deferred(self.connection())  # type: ignore[no-untyped-call]
            except (pw.OperationalError, pw.InterfaceError) as error:
                if not self.is_closed():
                    self.manual_close()
                code, _ = driver_error(error)
                # Unknown until now, or found out by another checkout meanwhile.
                if code == TLS_NOT_OFFERED and self.tls_offered is not True:
                    self.tls_offered = False
                    continue
                remaining = deadline - time.monotonic()
                if not _refused(error) or remaining <= 0:
                    raise
                log.info("database refused the connection; retrying for %.1f s more", remaining)
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 1.0)
                continue
            if self.tls_offered is None:
                self.tls_offered = True
            self.checkout.used = False
            return True

    def open_first(self) -> pymysql.connections.Connection:
        """A connection opened now, outside peewee's locks: peewee reads its server's version.

        Before any connection has told peewee the version, each checkout opens its
        own, side by side: on a server that hangs, every request waits its own
        connect timeout rather than in line behind one that holds the lock.
        """
        conn = self.new_connection()
        try:
            conn.connect()
        except pymysql.MySQLError as error:
            raise pw.OperationalError(error, *error.args) from error
        return conn

    def discard_opened(self) -> None:
        """Close a connection `open_first` made that `_connect` did not take (the pool
        had an idle one by then, or refused): it belongs to no pool."""
        conn = self.take_opened()
        if conn is not None:
            with suppress(pymysql.MySQLError):
                conn.close()

    def open_deferred(self, conn: pymysql.connections.Connection) -> None:
        """Open a deferred or dropped connection; ping one that idled in the pool a while.

        One that came back under PING_AFTER ago is handed out unpinged, saving a
        round trip on every busy checkout. One that idled longer may have been
        closed by the server (wait_timeout, a restart): the ping finds that here,
        before a write is sent on it that could not safely be sent again.
        """
        returned = self.returned_at.pop(conn, None)
        idled = returned is not None and time.monotonic() - returned >= self.PING_AFTER
        try:
            if conn.open and idled:
                try:
                    conn.ping()
                except pymysql.MySQLError as error:
                    if "timed out" in str(error):  # a server that hangs: a new one would hang too
                        raise
                    log.info("an idle pooled connection was dead; reconnecting it")
            if not conn.open:
                conn.connect()
        except pymysql.MySQLError as error:
            raise pw.OperationalError(error, *error.args) from error

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        """The statement; a connection found dead by a checkout's first statement is replaced.

        Only where running the statement again is safe: it cannot have reached
        the server (a failed send, 2006; a closed socket) or it is a read.
        """
        try:
            return super().execute_sql(sql, params)  # type: ignore[no-untyped-call]
        except (pw.OperationalError, pw.InterfaceError) as error:
            first = not getattr(self.checkout, "used", True)
            code, message = driver_error(error)
            safe = code in NOT_SENT or sql.lstrip()[:8].upper().startswith(_READ_ONLY)
            # A timeout is a server that hangs, not a dead connection: a new one would hang too.
            dead = code in LOST_CONNECTION and "timed out" not in message
            if not (first and dead and safe) or self.in_transaction():
                raise
            log.warning("pooled connection was dead (driver error %s); retrying once", code)
            self.manual_close()
            return super().execute_sql(sql, params)  # type: ignore[no-untyped-call]
        finally:
            self.checkout.used = True

    def close(self) -> bool:
        if not self.is_closed() and not self.in_transaction():
            conn = self.connection()  # type: ignore[no-untyped-call]
            if conn.open and conn.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS:
                # A failure closes the connection itself: the next checkout reconnects it.
                with suppress(pymysql.MySQLError):
                    conn.rollback()
            if conn.open:
                self.returned_at[conn] = time.monotonic()
        return bool(super().close())


def open_database(target: Target, config: Config) -> pw.Database:
    """A peewee database for `target`; it connects lazily, on first use."""
    if target.dialect == "sqlite":
        if target.name == ":memory:":
            return InMemorySqliteDatabase(pragmas={"foreign_keys": 1})
        Path(target.name).parent.mkdir(parents=True, exist_ok=True)
        _use_wal(target.name)
        return pw.SqliteDatabase(target.name, pragmas=SQLITE_PRAGMAS, timeout=5)
    pool: pw.Database = ConnectionPool(
        target.name,
        host=target.host,
        port=target.port,
        user=target.user,
        password=target.password,
        charset="utf8mb4",
        # An UPDATE reports the rows it matched, as SQLite does, not only those
        # whose values changed: a repeated identical write is found, not "missing".
        client_flag=CLIENT.FOUND_ROWS,
        connect_timeout=config.mysql_connect_timeout,
        wake_timeout=config.mysql_wake_timeout,
        # A server that accepts but never answers (hung, paused, a dead peer
        # behind a NAT) costs a request this long, then 503; never forever.
        read_timeout=config.mysql_read_timeout,
        write_timeout=config.mysql_write_timeout,
        max_connections=config.mysql_pool_size,
        stale_timeout=300,
        timeout=config.mysql_connect_timeout,
    )
    return pool


def is_mysql() -> bool:
    return isinstance(database.obj, pw.MySQLDatabase)


def dialect() -> str:
    return "mysql" if is_mysql() else "sqlite"


def close_connection(exc: BaseException | None = None) -> None:
    """Hand the request's connection back (to the pool, for MySQL)."""
    if database.obj is not None and not database.is_closed():
        database.close()


def dispose() -> None:
    """Close every connection the process holds: pooled ones, and an in-memory keeper."""
    real = database.obj
    if real is None:
        return
    if isinstance(real, InMemorySqliteDatabase):
        real.release()
    elif isinstance(real, PooledDatabase):
        real.close_all()
    elif not real.is_closed():
        real.close()


def ping() -> None:
    """One round trip; raises one of UNAVAILABLE_ERRORS when the database is out of reach."""
    database.execute_sql("SELECT 1").fetchone()


class ReadinessCheck:
    """`ping()` with a deadline shorter than the connection's timeouts.

    A readiness probe must answer while the database hangs, and sooner than
    MYSQL_READ_TIMEOUT. The ping runs in a thread of its own; the probe waits
    for it at most `deadline` seconds. At most one ping is in flight per
    process: while one hangs, further probes answer "not ready" at once
    instead of stacking up threads. The hung ping ends by itself when its
    connection's read timeout expires. A `probe` may check more than `ping()`:
    an error it raises other than UNAVAILABLE_ERRORS reaches `ready()`'s caller.
    """

    def __init__(self, deadline: float, probe: Callable[[], None] = ping) -> None:
        self.deadline = deadline
        self.probe = probe
        self._lock = threading.Lock()
        self._running: Future[None] | None = None

    def _ping_and_release(self) -> None:
        try:
            self.probe()
        finally:
            close_connection()

    def ready(self) -> bool:
        with self._lock:
            if self._running is None or self._running.done():
                self._running = Future()
                worker = threading.Thread(
                    target=self._run, args=(self._running,), name="readiness", daemon=True
                )
                worker.start()
            running = self._running
        try:
            running.result(timeout=self.deadline)
        except TimeoutError:
            return False
        except UNAVAILABLE_ERRORS:
            return False
        return True

    def _run(self, future: Future[None]) -> None:
        try:
            self._ping_and_release()
        except BaseException as error:  # handed to the waiting probe
            future.set_exception(error)
        else:
            future.set_result(None)


def init_app(app: Flask, config: Config) -> Target:
    """Bind the proxy and tie each connection to one request.

    Connections open lazily, on the first query, rather than in
    `before_request`: a health check or a static page never waits for, or
    fails on, a database it does not use.
    """
    target = resolve_target(config, app.instance_path)
    database.initialize(open_database(target, config))
    app.teardown_appcontext(close_connection)
    log.info("database: %s", target.describe())
    return target

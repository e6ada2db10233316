"""Where the integration suite's MySQL comes from, in a fixed order of preference.

1. `MYSQL_ADDRESS` is set: that server (with `MYSQL_USERNAME` / `MYSQL_PASSWORD`).
2. A Docker engine answers: testcontainers runs `MYSQL_IMAGE` (default mysql:8.4),
   with its reaper (Ryuk) unless TESTCONTAINERS_RYUK_DISABLED=true.
3. A `mariadbd` or `mysqld` binary is installed: a throwaway server in a
   temporary data directory on a free loopback port.
4. Nothing: `NoMySQLAvailable`, whose message names everything that was tried.

`MYSQL_PROVIDER=address|testcontainers|local` skips the order and demands that
one provider, failing with a clear message where it cannot be had, so CI can
run each on purpose.

A provider that cannot start says so in one line, `NoMySQLAvailable`, with what
to do instead (`what_to_do`); `check_provider` tries it once in the run's first
process, before pytest-xdist starts workers that would each fail every test.

Whichever it is, the suite only ever works in databases it creates itself.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import pymysql

from tests.support.net import free_port

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "mysql:8.4"
READY_TIMEOUT = 90.0
#: Where the mysql image keeps its data (a tmpfs in the suite's containers).
CONTAINER_DATA_DIRECTORY = "/var/lib/mysql"
#: Where a throwaway server's data may live in memory: Linux's tmpfs, where present.
MEMORY_DIRECTORIES = ("/dev/shm",)  # noqa: S108 (a parent for mkdtemp's private directory)
#: Free space a memory directory must have to hold a test server (about 200 MB in use).
MEMORY_NEEDED = 1 << 30


class NoMySQLAvailable(RuntimeError):
    """No server for the run: the message is one line, saying why and what to do instead."""


#: What to do when a provider cannot start, by `Provider.name`: another way to a server.
WHAT_TO_DO = {
    "external": "correct MYSQL_ADDRESS (or MYSQL_USERNAME / MYSQL_PASSWORD), "
    "or set MYSQL_PROVIDER=local or MYSQL_PROVIDER=testcontainers",
    "testcontainers": "set TESTCONTAINERS_RYUK_DISABLED=true if the reaper's image cannot be "
    "pulled, set MYSQL_PROVIDER=local, or name a running server with MYSQL_ADDRESS",
    "testcontainers without its reaper": "set MYSQL_IMAGE to an image this engine has or can "
    "pull, set MYSQL_PROVIDER=local, or name a running server with MYSQL_ADDRESS",
    "local-binary": "set MYSQL_PROVIDER=testcontainers, "
    "or name a running server with MYSQL_ADDRESS",
}


def what_to_do(case: str) -> str:
    return f"to go on: {WHAT_TO_DO[case]}"


def one_line(text: object, limit: int = 400) -> str:
    """An error's text on one line (a tool's output, a server's message), cut at `limit`."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def cannot_start(provider: str, what: str, error: object, case: str = "") -> NoMySQLAvailable:
    """`provider: what: error; to go on: ...`, the remedy that of `case` (default: `provider`)."""
    said = f"{provider}: {what}: {one_line(error)}; {what_to_do(case or provider)}"
    return NoMySQLAvailable(said)


@dataclass
class MySQLServer:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    provider: str
    description: str

    def url(self, database: str) -> str:
        credentials = quote(self.user, safe="")
        if self.password:
            credentials += ":" + quote(self.password, safe="")
        return f"mysql://{credentials}@{self.host}:{self.port}/{database}"

    def connect(self, **kwargs: Any) -> pymysql.connections.Connection:
        # No TLS to a loopback test server: PyMySQL would otherwise build a default
        # SSL context (loading the system's CA certificates, about 30 ms) per connection.
        options: dict[str, Any] = {
            "charset": "utf8mb4",
            "autocommit": True,
            "connect_timeout": 5,
            "ssl_disabled": True,
        }
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            **(options | kwargs),
        )

    def execute(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with closing(self.connect()) as conn, conn.cursor() as cursor:
            cursor.execute(sql, args or None)
            return list(cursor.fetchall())

    def create_database(self, prefix: str = "it") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        return name

    def drop_database(self, name: str) -> None:
        if not name.startswith("it_"):  # never anything the suite did not create
            raise ValueError(f"refusing to drop {name!r}")
        self.execute(f"DROP DATABASE IF EXISTS `{name}`")

    def snapshot(self, database: str) -> Snapshot:
        """Every table's DDL, and the rows of each table that has any, to rebuild `database`."""
        with closing(self.connect(database=database)) as conn, conn.cursor() as cursor:
            cursor.execute("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")
            tables = [row[0] for row in cursor.fetchall()]
            ddl = []
            rows: dict[str, list[tuple[Any, ...]]] = {}
            for table in tables:
                cursor.execute(f"SHOW CREATE TABLE `{table}`")
                ddl.append(cursor.fetchone()[1])
                cursor.execute(f"SELECT COUNT(*) FROM `{table}`")
                if cursor.fetchone()[0]:
                    cursor.execute(f"SELECT * FROM `{table}`")
                    rows[table] = list(cursor.fetchall())
        return Snapshot(ddl, rows)

    def restore(self, database: str, snapshot: Snapshot) -> None:
        """Rebuild `snapshot` in the empty `database`: the DDL, then the rows, on one connection."""
        with closing(self.connect(database=database)) as conn, conn.cursor() as cursor:
            cursor.execute("SET FOREIGN_KEY_CHECKS = 0")  # tables in any order
            for statement in snapshot.ddl:
                cursor.execute(statement)
            for table, rows in snapshot.rows.items():
                marks = ", ".join(["%s"] * len(rows[0]))
                cursor.executemany(f"INSERT INTO `{table}` VALUES ({marks})", rows)
            cursor.execute("SET FOREIGN_KEY_CHECKS = 1")

    def drop_tables(self, database: str) -> None:
        """Every table of `database` dropped; the database and its defaults stay."""
        with closing(self.connect(database=database)) as conn, conn.cursor() as cursor:
            cursor.execute("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")
            tables = ", ".join(f"`{row[0]}`" for row in cursor.fetchall())
            if tables:
                cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
                cursor.execute(f"DROP TABLE {tables}")

    def replace(self, database: str, snapshot: Snapshot) -> None:
        """`database`'s tables dropped, then `snapshot` rebuilt in it."""
        self.drop_tables(database)
        self.restore(database, snapshot)

    def running(self, database: str, statement: str) -> int:
        """Sessions using `database` that are running a statement beginning with `statement`
        (the process list: information_schema.INNODB_TRX misses some of those that wait)."""
        rows = self.execute(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
            "WHERE DB = %s AND COMMAND = 'Query' AND INFO LIKE %s",
            database,
            statement + "%",
        )
        return int(rows[0][0])

    def connected(self, connection_id: int) -> bool:
        """Whether the session `connection_id` still exists (a KILL takes a moment)."""
        rows = self.execute(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s", connection_id
        )
        return bool(rows[0][0])

    @contextmanager
    def scratch_database(self, prefix: str = "it") -> Iterator[str]:
        name = self.create_database(prefix)
        try:
            yield name
        finally:
            self.drop_database(name)


@dataclass(frozen=True)
class Snapshot:
    """A database as its tables' CREATE statements and the rows of the tables that had any."""

    ddl: list[str]
    rows: dict[str, list[tuple[Any, ...]]]


class Provider(Protocol):
    name: str

    def start(self) -> MySQLServer: ...

    def stop(self) -> None: ...

    def check(self) -> None:
        """Raise NoMySQLAvailable, as `start` would, where the provider cannot start."""


def wait_until_accepting(server: MySQLServer, timeout: float, alive: Callable[[], bool]) -> None:
    """Until a real login and query succeed: an open port alone is not a ready server."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not alive():
            raise NoMySQLAvailable(f"{server.provider}: the server exited while starting")
        try:
            server.execute("SELECT 1")
            return
        except pymysql.MySQLError as error:
            last = error
            time.sleep(0.25)
    raise NoMySQLAvailable(f"{server.provider}: not accepting logins after {timeout:.0f} s: {last}")


class ExternalServer:
    """A server somebody else runs, named by MYSQL_ADDRESS."""

    name = "external"

    def __init__(self, address: str, user: str, password: str) -> None:
        host, _, port = address.rpartition(":")
        if not host:
            host, port = address, "3306"
        if not port.isdigit():
            raise NoMySQLAvailable(
                f"MYSQL_ADDRESS must be host or host:port, not {address!r}; {what_to_do(self.name)}"
            )
        self.server = MySQLServer(
            host, int(port), user, password, self.name, f"MYSQL_ADDRESS={host}:{port}"
        )

    def start(self) -> MySQLServer:
        """The server is somebody else's and up, or not: asked once, not waited for."""
        try:
            self.server.execute("SELECT 1")
        except pymysql.MySQLError as error:
            where = f"{self.server.host}:{self.server.port}"
            raise cannot_start(self.name, f"{where} refused {self.server.user}", error) from error
        return self.server

    def stop(self) -> None:
        pass

    def check(self) -> None:
        self.start()


class ContainerServer:
    """mysql:8.4 (or MYSQL_IMAGE) in Docker, through testcontainers; removed afterwards."""

    name = "testcontainers"

    def __init__(self, image: str, *, durable: bool = False) -> None:
        """`durable`: data on the container's disk, as a real server keeps it (the benchmark's)."""
        self.image = image
        self.durable = durable
        self._container: Any = None

    def start(self) -> MySQLServer:
        from testcontainers.community.mysql import MySqlContainer

        container = MySqlContainer(self.image, username="root", password="it-root", dbname="it")
        if not self.durable:
            # The data directory in memory, as for the local provider: each test's
            # tables are created and dropped there rather than on the container's disk.
            container.with_tmpfs_mount(CONTAINER_DATA_DIRECTORY)
        try:
            self._container = container.start()
            server = MySQLServer(
                container.get_container_host_ip(),
                int(container.get_exposed_port(3306)),
                "root",
                "it-root",
                self.name,
                f"image {self.image}",
            )
            wait_until_accepting(server, READY_TIMEOUT, alive=lambda: True)
        except Exception as error:
            # Docker's and testcontainers' errors alike (a pull refused, a reaper that
            # never started, a daemon that went away): the one line, not their traceback.
            with contextlib.suppress(Exception):
                container.stop()
            self._container = None
            raise self._cannot_start(error) from error
        return server

    def stop(self) -> None:
        if self._container is not None:
            self._container.stop()
            self._container = None

    def _cannot_start(self, error: Exception) -> NoMySQLAvailable:
        from testcontainers.core.config import testcontainers_config

        reaper = not testcontainers_config.ryuk_disabled
        case = self.name if reaper else "testcontainers without its reaper"
        what = f"could not start {self.image}" + (" (its reaper first)" if reaper else "")
        return cannot_start(self.name, what, error, case)

    def check(self) -> None:
        """What `start` needs from Docker, without a MySQL server's start-up: the reaper
        (unless TESTCONTAINERS_RYUK_DISABLED=true) and the image, run as a container that
        exits at once, then removed. The image's pull is one the workers would make anyway."""
        from testcontainers.core.container import DockerContainer

        probe = DockerContainer(self.image).with_command("true")
        try:
            probe.start()
        except Exception as error:
            raise self._cannot_start(error) from error
        finally:
            with contextlib.suppress(Exception):
                probe.stop()


class LocalBinaryServer:
    """A throwaway mariadbd/mysqld: temp data directory, free loopback port, no root password."""

    name = "local-binary"

    def __init__(self, binary: str, *, durable: bool = False) -> None:
        """`durable`: flush every commit, as a real server does (the benchmark's choice)."""
        self.binary = binary
        self.durable = durable
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def _is_mariadb(self) -> bool:
        version = subprocess.run(
            [self.binary, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
        return "mariadb" in version.stdout.lower()

    def _initialise(self, datadir: Path) -> None:
        if self._is_mariadb():
            installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
            if installer is None:
                raise NoMySQLAvailable("mariadb-install-db not found")
            command = [
                installer,
                "--no-defaults",
                f"--datadir={datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                f"--user={_user()}",
                f"--tmpdir={self.tmpdir}",
            ]
        else:
            command = [
                self.binary,
                "--no-defaults",
                "--initialize-insecure",
                f"--datadir={datadir}",
                f"--user={_user()}",
                f"--tmpdir={self.tmpdir}",
            ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip() or f"exit status {done.returncode}"
            raise NoMySQLAvailable(f"initialising the data directory failed: {output[-1000:]}")

    def start(self) -> MySQLServer:
        # In memory unless durable: on disk, every test's DROP/CREATE of tables makes
        # and removes files, and resetting a test's database took 31 ms rather than 8.
        parent = None if self.durable else memory_directory()
        self._dir = Path(tempfile.mkdtemp(prefix="mysql-it-", dir=parent))
        datadir = self._dir / "data"
        # A temporary directory of its own: a starting server deletes the `#sql*` files
        # it finds in its tmpdir, and in a shared /tmp those were the temporary tables
        # of other servers starting beside it (pytest-xdist starts one per worker).
        try:  # whatever fails, nothing is left behind (in memory, it would hold RAM)
            self.tmpdir.mkdir()
            self._initialise(datadir)
            self.port = free_port()
            self._process = self._spawn()
            server = MySQLServer(
                "127.0.0.1",
                self.port,
                "root",
                "",
                self.name,
                f"{Path(self.binary).name} in {self._dir}",
            )
            wait_until_accepting(server, READY_TIMEOUT, alive=self.running)
        except (NoMySQLAvailable, OSError, subprocess.SubprocessError) as error:
            said = self._last_error_line()
            self.stop()
            reason = f"{error}: {said}" if said else error
            raise cannot_start(self.name, f"{self.binary} did not start", reason) from error
        except BaseException:
            self.stop()
            raise
        return server

    def _last_error_line(self) -> str | None:
        """The last [ERROR] line of the server's log, which says why it stopped, if any."""
        log_file = self._dir / "error.log" if self._dir is not None else None
        if log_file is None or not log_file.is_file():
            return None
        errors = [
            line for line in log_file.read_text(errors="replace").splitlines() if "[ERROR]" in line
        ]
        return errors[-1] if errors else None

    def check(self) -> None:
        """A start and a stop: a second or so, once, in the run's first process."""
        self.start()
        self.stop()

    @property
    def directory(self) -> Path | None:
        """The server's own directory (its data, socket and log), while it exists."""
        return self._dir

    @property
    def tmpdir(self) -> Path:
        """The server's own temporary directory, inside its directory (see `start`)."""
        assert self._dir is not None, "never started"
        return self._dir / "tmp"

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def pause(self) -> None:
        """Stop the server but keep its data, to simulate an outage."""
        if self._process is None:
            return
        self._process.send_signal(signal.SIGTERM)
        self._process.wait(60)
        self._process = None

    def freeze(self) -> None:
        """SIGSTOP the server: it keeps its sockets and answers nothing, like a hung host."""
        assert self._process is not None, "not running"
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._process is not None, "not running"
        self._process.send_signal(signal.SIGCONT)

    def resume(self) -> None:
        """Start the same server again, on the same port and data."""
        assert self._dir is not None, "never started"
        assert self._process is None, "still running"
        self._process = self._spawn()
        wait_until_accepting(
            MySQLServer("127.0.0.1", self.port, "root", "", self.name, ""),
            READY_TIMEOUT,
            alive=self.running,
        )

    def _spawn(self) -> subprocess.Popen[bytes]:
        assert self._dir is not None
        command = [
            self.binary,
            "--no-defaults",
            f"--datadir={self._dir / 'data'}",
            f"--socket={self._dir / 'mysqld.sock'}",
            f"--pid-file={self._dir / 'mysqld.pid'}",
            f"--log-error={self._dir / 'error.log'}",
            f"--tmpdir={self.tmpdir}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--user={_user()}",
            "--innodb-buffer-pool-size=128M",
            "--max-connections=300",
            "--skip-log-bin",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
        ]
        if not self.durable:
            # A server thrown away after the run needs no crash safety: without a
            # flush per commit and the doublewrite buffer, a test's CREATE TABLEs
            # and commits cost a fraction. The benchmark asks for a durable one.
            command += ["--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0"]
        return subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def memory_directory(
    candidates: tuple[str, ...] = MEMORY_DIRECTORIES, needed: int = MEMORY_NEEDED
) -> str | None:
    """The first candidate that is a writable directory with `needed` bytes free, or None
    (then the system's temporary directory, on disk)."""
    for candidate in candidates:
        try:
            stats = os.statvfs(candidate)
        except OSError:
            continue
        usable = os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK)
        if usable and stats.f_bavail * stats.f_frsize >= needed:
            return candidate
    return None


def _user() -> str:
    return getpass.getuser()


def docker_engine_answers(env: Mapping[str, str], timeout: float = 2.0) -> bool:
    """Ask the engine for `/_ping` ourselves: the Docker SDK leaks a socket when none answers."""
    host = env.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    parts = urlsplit(host)
    try:
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            target: Any = parts.path
        elif parts.scheme in ("tcp", "http"):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            target = (parts.hostname or "127.0.0.1", parts.port or 2375)
        else:
            return False
        with closing(sock):
            sock.connect(target)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = sock.recv(1024)
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0]


def find_server_binary(which: Callable[[str], str | None] = shutil.which) -> str | None:
    """The server binary, also where sbin is not on PATH (Debian installs it there)."""
    for name in ("mariadbd", "mysqld"):
        for candidate in (name, f"/usr/sbin/{name}"):
            found = which(candidate)
            if found:
                return found
    return None


PROVIDERS = ("address", "testcontainers", "local")


def _forced(
    wanted: str,
    env: Mapping[str, str],
    docker: Callable[[Mapping[str, str]], bool],
    binary: Callable[[], str | None],
) -> Provider:
    if wanted == "address":
        address = env.get("MYSQL_ADDRESS", "").strip()
        if not address:
            raise NoMySQLAvailable(
                "MYSQL_PROVIDER=address but MYSQL_ADDRESS is not set; to go on: set "
                "MYSQL_ADDRESS=host:port, or MYSQL_PROVIDER=local or MYSQL_PROVIDER=testcontainers"
            )
        return ExternalServer(
            address, env.get("MYSQL_USERNAME") or "root", env.get("MYSQL_PASSWORD", "")
        )
    if wanted == "testcontainers":
        if not docker(env):
            raise NoMySQLAvailable(
                "MYSQL_PROVIDER=testcontainers but no Docker engine answered at "
                f"{env.get('DOCKER_HOST', 'unix:///var/run/docker.sock')}; to go on: start "
                "Docker, set MYSQL_PROVIDER=local, or name a running server with MYSQL_ADDRESS"
            )
        return ContainerServer(env.get("MYSQL_IMAGE") or DEFAULT_IMAGE)
    found = binary()
    if not found:
        raise NoMySQLAvailable(
            "MYSQL_PROVIDER=local but neither mariadbd nor mysqld is installed; to go on: "
            "install one, set MYSQL_PROVIDER=testcontainers, or name a running server with "
            "MYSQL_ADDRESS"
        )
    return LocalBinaryServer(found)


def choose_provider(
    env: Mapping[str, str],
    docker: Callable[[Mapping[str, str]], bool] = docker_engine_answers,
    binary: Callable[[], str | None] = find_server_binary,
) -> Provider:
    wanted = env.get("MYSQL_PROVIDER", "").strip().lower()
    if wanted:
        if wanted not in PROVIDERS:
            raise NoMySQLAvailable(
                f"MYSQL_PROVIDER must be one of {', '.join(PROVIDERS)}, not {wanted!r}"
            )
        return _forced(wanted, env, docker, binary)
    address = env.get("MYSQL_ADDRESS", "").strip()
    if address:
        return ExternalServer(
            address, env.get("MYSQL_USERNAME") or "root", env.get("MYSQL_PASSWORD", "")
        )
    if docker(env):
        return ContainerServer(env.get("MYSQL_IMAGE") or DEFAULT_IMAGE)
    found = binary()
    if found:
        return LocalBinaryServer(found)
    raise NoMySQLAvailable(
        "no MySQL for the integration suite: MYSQL_ADDRESS is not set, no Docker engine "
        f"answered at {env.get('DOCKER_HOST', 'unix:///var/run/docker.sock')}, and neither "
        "mariadbd nor mysqld is installed (install one, start Docker, or set MYSQL_ADDRESS)"
    )


def check_provider(env: Mapping[str, str]) -> Provider:
    """The provider `choose_provider` picks, once shown able to start (`Provider.check`).

    For the run's first process: pytest-xdist's workers each start a server of
    their own, and one that cannot fails every test it runs, each with the same
    error; tried once before they exist, the run stops with one line instead.
    """
    provider = choose_provider(env)
    provider.check()
    return provider

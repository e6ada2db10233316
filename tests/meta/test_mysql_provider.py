"""Which MySQL the integration suite picks, and how it says it found none."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.support import with_mysql
from tests.support.fake_docker import FakeDocker
from tests.support.live_server import PROJECT_ROOT
from tests.support.mysql import (
    ContainerServer,
    ExternalServer,
    LocalBinaryServer,
    MySQLServer,
    NoMySQLAvailable,
    choose_provider,
    docker_engine_answers,
    find_server_binary,
    memory_directory,
)
from tests.support.net import free_port
from tests.support.tools import untraced


def docker_up(env: Mapping[str, str]) -> bool:
    return True


def docker_down(env: Mapping[str, str]) -> bool:
    return False


def no_binary() -> str | None:
    return None


def mariadbd() -> str | None:
    return "/usr/sbin/mariadbd"


def test_mysql_address_wins_over_everything() -> None:
    env = {"MYSQL_ADDRESS": "db.internal:3310", "MYSQL_USERNAME": "app", "MYSQL_PASSWORD": "pw"}
    provider = choose_provider(env, docker=docker_up, binary=mariadbd)
    assert isinstance(provider, ExternalServer)
    assert (provider.server.host, provider.server.port) == ("db.internal", 3310)
    assert (provider.server.user, provider.server.password) == ("app", "pw")


def test_mysql_address_without_port_and_user_defaults() -> None:
    provider = choose_provider({"MYSQL_ADDRESS": "db"}, docker=docker_up, binary=mariadbd)
    assert isinstance(provider, ExternalServer)
    assert (provider.server.port, provider.server.user) == (3306, "root")


def test_docker_comes_second_with_mysql_8_4() -> None:
    provider = choose_provider({}, docker=docker_up, binary=mariadbd)
    assert isinstance(provider, ContainerServer)
    assert provider.image == "mysql:8.4"


def test_mysql_image_overrides_the_container_image() -> None:
    provider = choose_provider({"MYSQL_IMAGE": "mysql:9.1"}, docker=docker_up, binary=mariadbd)
    assert isinstance(provider, ContainerServer)
    assert provider.image == "mysql:9.1"


def test_local_binary_comes_third() -> None:
    provider = choose_provider({}, docker=docker_down, binary=mariadbd)
    assert isinstance(provider, LocalBinaryServer)
    assert provider.binary == "/usr/sbin/mariadbd"


@pytest.mark.parametrize(
    ("wanted", "kind"),
    [
        ("address", ExternalServer),
        ("testcontainers", ContainerServer),
        ("local", LocalBinaryServer),
    ],
)
def test_mysql_provider_forces_one_whatever_else_is_there(wanted: str, kind: type[object]) -> None:
    env = {"MYSQL_PROVIDER": wanted, "MYSQL_ADDRESS": "db:3306", "MYSQL_IMAGE": "local/x:1"}
    provider = choose_provider(env, docker=docker_up, binary=mariadbd)
    assert isinstance(provider, kind)
    if isinstance(provider, ContainerServer):
        assert provider.image == "local/x:1"


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"MYSQL_PROVIDER": "address"}, "MYSQL_ADDRESS is not set"),
        ({"MYSQL_PROVIDER": "testcontainers"}, "no Docker engine answered"),
        ({"MYSQL_PROVIDER": "local"}, "neither mariadbd nor mysqld"),
        ({"MYSQL_PROVIDER": "podman"}, "must be one of address, testcontainers, local"),
    ],
)
def test_a_forced_provider_that_cannot_be_had_says_why(env: dict[str, str], missing: str) -> None:
    with pytest.raises(NoMySQLAvailable, match=missing):
        choose_provider(env, docker=docker_down, binary=no_binary)


def test_the_container_provider_uses_the_current_module() -> None:
    """testcontainers.mysql only warns now (an error under filterwarnings=error)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from testcontainers.community.mysql import MySqlContainer
    assert MySqlContainer.__module__.startswith("testcontainers.community.mysql")


def test_nothing_found_names_everything_tried() -> None:
    with pytest.raises(NoMySQLAvailable) as caught:
        choose_provider({}, docker=docker_down, binary=no_binary)
    message = str(caught.value)
    assert "\n" not in message
    for tried in ("MYSQL_ADDRESS", "Docker", "mariadbd", "mysqld"):
        assert tried in message


def test_binary_is_found_in_sbin_when_path_lacks_it() -> None:
    def which(name: str) -> str | None:
        return name if name == "/usr/sbin/mysqld" else None

    assert find_server_binary(which) == "/usr/sbin/mysqld"


def test_mariadbd_is_preferred_to_mysqld() -> None:
    def which(name: str) -> str | None:
        return f"/bin/{name}" if name in ("mariadbd", "mysqld") else None

    assert find_server_binary(which) == "/bin/mariadbd"


def _serve_once(sock: socket.socket, reply: bytes) -> None:
    conn, _ = sock.accept()
    with conn:
        conn.recv(1024)
        conn.sendall(reply)


@pytest.fixture
def unix_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "docker.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    yield server, path
    server.close()


def test_docker_probe_accepts_an_engine_that_pongs(unix_socket: tuple[socket.socket, str]) -> None:
    server, path = unix_socket
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
    thread = threading.Thread(target=_serve_once, args=(server, reply))
    thread.start()
    assert docker_engine_answers({"DOCKER_HOST": f"unix://{path}"})
    thread.join(5)


def test_docker_probe_rejects_a_socket_that_errors(unix_socket: tuple[socket.socket, str]) -> None:
    server, path = unix_socket
    reply = b"HTTP/1.1 500 Internal Server Error\r\n\r\n"
    thread = threading.Thread(target=_serve_once, args=(server, reply))
    thread.start()
    assert not docker_engine_answers({"DOCKER_HOST": f"unix://{path}"})
    thread.join(5)


def test_docker_probe_says_no_when_nothing_listens(tmp_path: Path) -> None:
    assert not docker_engine_answers({"DOCKER_HOST": f"unix://{tmp_path / 'absent.sock'}"})
    assert not docker_engine_answers({"DOCKER_HOST": "ssh://somewhere"})


def test_a_memory_directory_is_the_first_writable_one_with_room(tmp_path: Path) -> None:
    absent, a_file = tmp_path / "absent", tmp_path / "file"
    a_file.write_text("not a directory")
    candidates = (str(absent), str(a_file), str(tmp_path))
    assert memory_directory(candidates, needed=1) == str(tmp_path)


def test_no_memory_directory_with_room_means_disk(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    assert memory_directory((str(tmp_path),), needed=free + (1 << 40)) is None
    assert memory_directory((), needed=1) is None


def test_a_server_that_fails_to_initialise_leaves_no_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    failing = shutil.which("false")
    assert failing is not None
    server = LocalBinaryServer(failing, durable=True)  # durable: the temporary directory
    with pytest.raises(NoMySQLAvailable, match="initialising the data directory failed"):
        server.start()
    assert list(tmp_path.iterdir()) == []
    assert server.directory is None


def test_server_url_quotes_credentials() -> None:
    server = MySQLServer("h", 3306, "u@x", "p/w:d", "external", "")
    assert server.url("it_1") == "mysql://u%40x:p%2Fw%3Ad@h:3306/it_1"


def test_only_suite_databases_can_be_dropped() -> None:
    server = MySQLServer("h", 3306, "root", "", "external", "")
    with pytest.raises(ValueError, match="refusing"):
        server.drop_database("flask_demo")


class Recorded:
    """A provider whose server is named, not run: what the runner does around it is the test."""

    name = "recorded"

    def __init__(self) -> None:
        self.events: list[str] = []

    def start(self) -> MySQLServer:
        self.events.append("start")
        return MySQLServer("127.0.0.9", 3399, "u s", "p@ss", self.name, "recorded")

    def stop(self) -> None:
        self.events.append("stop")


PRINT_ENV = (
    "import os, sys; names = ('MYSQL_PROVIDER', 'MYSQL_ADDRESS', 'MYSQL_USERNAME', "
    "'MYSQL_PASSWORD'); print('|'.join(os.environ[n] for n in names)); sys.exit(int(sys.argv[1]))"
)


@pytest.mark.parametrize("exit_code", [0, 3])
def test_with_mysql_starts_one_server_for_the_command_and_stops_it(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], exit_code: int
) -> None:
    provider = Recorded()
    monkeypatch.setattr(with_mysql, "choose_provider", lambda env: provider)
    argv = ["--", sys.executable, "-c", PRINT_ENV, str(exit_code)]
    assert with_mysql.main(argv) == exit_code
    assert provider.events == ["start", "stop"]
    assert "address|127.0.0.9:3399|u s|p@ss" in capfd.readouterr().out


def test_with_mysql_without_a_server_says_why_and_runs_nothing(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def none_found(env: Mapping[str, str]) -> Recorded:
        raise NoMySQLAvailable("no MySQL for the integration suite: nothing here")

    monkeypatch.setattr(with_mysql, "choose_provider", none_found)
    assert with_mysql.main(["--", sys.executable, "-c", "print('ran')"]) == 1
    out, err = capfd.readouterr()
    assert "ran" not in out
    assert "with_mysql: no MySQL for the integration suite" in err


def test_an_address_nobody_listens_on_is_refused_at_once_in_one_line() -> None:
    """A server somebody else runs is up or not: asked once, the answer names the way out."""
    provider = ExternalServer(f"127.0.0.1:{free_port()}", "root", "")
    with pytest.raises(NoMySQLAvailable) as caught:
        provider.check()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("external: 127.0.0.1:")
    assert "Connection refused" in message
    assert "MYSQL_ADDRESS" in message
    assert "MYSQL_PROVIDER=local" in message


def test_an_address_that_is_no_address_says_so() -> None:
    with pytest.raises(NoMySQLAvailable, match="MYSQL_ADDRESS must be host or host:port"):
        choose_provider({"MYSQL_ADDRESS": "db:mysql"})


def bogus_server(directory: Path, *, executable: bool) -> str:
    """A `mariadbd` that is not one: it fails, saying so, or cannot be run at all."""
    binary = directory / "mariadbd"
    binary.write_text("#!/bin/sh\necho 'mariadbd: a stand-in that fails' >&2\nexit 1\n")
    if executable:
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return str(binary)


@pytest.mark.parametrize(
    ("executable", "said"),
    [(True, "a stand-in that fails"), (False, "Permission denied")],
    ids=["fails", "not-executable"],
)
def test_a_local_server_that_cannot_start_is_one_line_naming_the_way_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executable: bool, said: str
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    provider = LocalBinaryServer(bogus_server(bin_dir, executable=executable), durable=True)
    with pytest.raises(NoMySQLAvailable) as caught:
        provider.check()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"local-binary: {bin_dir / 'mariadbd'} did not start: ")
    assert said in message
    assert "MYSQL_PROVIDER=testcontainers" in message
    assert "MYSQL_ADDRESS" in message
    assert [p.name for p in tmp_path.iterdir()] == ["bin"]  # its directory is gone


#: What every run below leaves out of the environment: it names its provider itself.
PROVIDER_VARIABLES = ("MYSQL_PROVIDER", "MYSQL_ADDRESS", "MYSQL_IMAGE", "DOCKER_HOST")


def run_needing_mysql(env: dict[str, str]) -> tuple[int, list[str]]:
    """`--db=mysql` on two xdist workers, as `nox -s integration` runs: exit status, lines."""
    base = untraced()
    for name in PROVIDER_VARIABLES:
        base.pop(name, None)
    base = {k: v for k, v in base.items() if not k.startswith("TESTCONTAINERS_")}
    command = [sys.executable, "-m", "pytest", "--db=mysql", "-n", "2", "-p", "no:randomly"]
    command += ["-p", "no:cacheprovider", "--no-cov", "tests/integration/test_schema.py"]
    done = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,  # a bound on a hang, not a measure of speed
        check=False,
    )
    return done.returncode, (done.stdout + done.stderr).strip().splitlines()


def assert_one_reason(status: int, lines: list[str], *remedies: str) -> str:
    """The run ended before any worker started, saying one thing: why, and what to do."""
    output = "\n".join(lines)
    assert status == 1, output
    # pytest says it twice, on stderr and in its closing banner, and nothing else.
    (said,) = [line for line in lines if line.startswith("Exit: mysql: ")]
    reason = said.removeprefix("Exit: ")
    assert len(lines) == 2, output
    assert all(reason in line for line in lines), output
    assert "bringing up nodes" not in output, output  # pytest-xdist's, as it starts workers
    for remedy in remedies:
        assert remedy in reason, reason
    return reason


@pytest.mark.parametrize("reaper", [True, False], ids=["reaper", "no-reaper"])
def test_a_docker_engine_that_cannot_pull_stops_the_run_with_one_line(reaper: bool) -> None:
    """The engine answers, so testcontainers is chosen, but it can pull no image."""
    env = {"MYSQL_PROVIDER": "testcontainers"}
    if not reaper:
        env["TESTCONTAINERS_RYUK_DISABLED"] = "true"
    with FakeDocker() as engine:
        status, lines = run_needing_mysql({**env, "DOCKER_HOST": engine.host})
    if reaper:
        reason = assert_one_reason(status, lines, "TESTCONTAINERS_RYUK_DISABLED=true")
        (pulled,) = engine.pulls()  # once, by the first process: no worker tried
        assert pulled.startswith("testcontainers/ryuk:")
    else:
        reason = assert_one_reason(status, lines, "MYSQL_IMAGE")
        assert engine.pulls() == ["mysql:8.4"]
        assert "TESTCONTAINERS_RYUK_DISABLED" not in reason
    assert "MYSQL_PROVIDER=local" in reason
    assert "MYSQL_ADDRESS" in reason
    assert "no such host" in reason


def test_an_address_nobody_listens_on_stops_the_run_with_one_line() -> None:
    env = {"MYSQL_PROVIDER": "address", "MYSQL_ADDRESS": f"127.0.0.1:{free_port()}"}
    status, lines = run_needing_mysql(env)
    assert_one_reason(status, lines, "MYSQL_ADDRESS", "MYSQL_PROVIDER=local", "refused")


def test_a_local_server_that_cannot_start_stops_the_run_with_one_line(tmp_path: Path) -> None:
    bogus_server(tmp_path, executable=True)
    env = {"MYSQL_PROVIDER": "local", "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    status, lines = run_needing_mysql(env)
    reason = assert_one_reason(status, lines, "MYSQL_PROVIDER=testcontainers", "MYSQL_ADDRESS")
    assert "a stand-in that fails" in reason

"""The service under gunicorn, on a free loopback port, as the container runs it.

The server runs with the project's `gunicorn.conf.py` (gunicorn reads it from
the working directory), so the tests exercise the production configuration,
not Flask's development server.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import requests
import urllib3

from tests.support.fake_wechat import FakeWeChat
from tests.support.net import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def service_env(database_url: str, wechat: FakeWeChat) -> dict[str, str]:
    """A signed-in service's settings: its database, migrated at start, and the fake WeChat."""
    return {
        "DATABASE_URL": database_url,
        "AUTO_MIGRATE": "true",
        # Values the tests can look for in the server's output: none may appear.
        "TOKEN_SECRET": f"it-token-secret-{secrets.token_hex(16)}",
        "WX_API_BASE": wechat.base_url,
        "WX_APPID": wechat.appid,
        "WX_SECRET": wechat.secret,
    }


def gunicorn_until_it_stops(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """gunicorn serving the service from the project root, for a start that must be refused.

    Its output is stdout and stderr together; `error_messages` reads the refusals from it.
    """
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "service:create_app()"],
        cwd=PROJECT_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    done.stdout += done.stderr
    return done


def error_messages(output: str) -> list[str]:
    """The messages of the JSON log lines at level ERROR: gunicorn's refusals."""
    return [json.loads(line)["message"] for line in output.splitlines() if '"ERROR"' in line]


DEFAULT_STARTUP_TIMEOUT = 60.0


def close_idle_connections(port: int) -> None:
    """Close this process's idle keep-alive connections to the server on `port`.

    urllib3 2 leaves a pool's connections open until the pool is garbage collected
    (`PoolManager.clear()` and so `Session.close()` no longer close them), and every
    `Response` holds its pool: a test that still holds a response keeps a connection
    open. gunicorn's gevent worker, told to stop, waits for each open connection, an
    idle one up to `keepalive` (5 s): each such stop took 6 s instead of 1. Only a
    pool's idle connections are closed; one a request is using is not in the pool.
    """
    pools = [
        found
        for found in gc.get_objects()
        if isinstance(found, urllib3.HTTPConnectionPool)
        and found.host == "127.0.0.1"
        and found.port == port
    ]
    for pool in pools:
        pool.close()


class ServerFailedToStart(RuntimeError):
    pass


class LiveServer:
    def __init__(
        self,
        env: Mapping[str, str],
        *,
        workers: int = 2,
        startup_timeout: float | None = None,
        command: list[str] | None = None,
        ready_path: str = "/healthz",
        poll_interval: float = 0.1,
    ) -> None:
        """`ready_path` answers 200 once the server has started; asked every `poll_interval`."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.startup_timeout = startup_timeout or float(
            os.environ.get("STARTUP_TIMEOUT", DEFAULT_STARTUP_TIMEOUT)
        )
        self.env = {
            **os.environ,
            **env,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(workers),
        }
        self._command = command
        self.ready_path = ready_path
        self.poll_interval = poll_interval
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._final_output = ""

    def command(self) -> list[str]:
        return self._command or [sys.executable, "-m", "gunicorn", "service:create_app()"]

    def start(self) -> LiveServer:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            self.command(),
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() reaches every worker
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise ServerFailedToStart(
                    f"gunicorn exited with {self._process.returncode}:\n{self.output()}"
                )
            try:
                if requests.get(f"{self.url}{self.ready_path}", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(self.poll_interval)
        raise ServerFailedToStart(
            f"gunicorn did not answer {self.ready_path} within {self.startup_timeout:.0f} s "
            f"(STARTUP_TIMEOUT):\n{self.output()}"
        )

    @property
    def pid(self) -> int:
        assert self._process is not None, "server not started"
        return self._process.pid

    def signal(self, signum: int) -> None:
        assert self._process is not None, "server not started"
        self._process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        assert self._process is not None, "server not started"
        return self._process.wait(timeout)

    def output(self) -> str:
        if self._log is None:
            return self._final_output
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self) -> None:
        """SIGTERM the whole process group, then SIGKILL what is left after 15 s.

        The tests' own idle connections are closed first: a client that is done
        closes them, and the server would wait for them (`close_idle_connections`).
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            close_idle_connections(self.port)
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
            except ProcessLookupError:
                pass
        if process is not None:
            with contextlib.suppress(ProcessLookupError):  # workers that outlived their master
                os.killpg(process.pid, signal.SIGKILL)
        self._final_output = self.output()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def promote(server: Any, openid: str, role: str = "admin") -> None:
    """`flask users promote`, run as an operator would, against the server's database.

    For a compose stack (container mode) it runs inside the app's container.
    """
    if not isinstance(server, LiveServer):
        done = server.exec("flask", "users", "promote", openid, "--role", role)
        assert done.returncode == 0, done.stderr
        assert f"-> {role}" in done.stdout, done.stdout
        return
    done = subprocess.run(
        [sys.executable, "-m", "flask", "users", "promote", openid, "--role", role],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": server.env["DATABASE_URL"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"-> {role}" in done.stdout, done.stdout

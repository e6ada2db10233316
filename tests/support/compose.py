"""The built image under docker/docker-compose.yml, for the live-server tests.

Used instead of a local gunicorn when RUN_DOCKER_INTEGRATION_TESTS=true. The
image is built once per run (`build_image`, with PYTHON_IMAGE as its base when
set); each stack starts it with MySQL (MYSQL_IMAGE), is waited for on /readyz
within DOCKER_STARTUP_TIMEOUT, and is removed with its volumes, also when a
test fails.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping

import requests

from tests.support.fake_wechat import FakeWeChat
from tests.support.live_server import PROJECT_ROOT
from tests.support.mysql import docker_engine_answers
from tests.support.net import free_port

COMPOSE_FILE = PROJECT_ROOT / "docker" / "docker-compose.yml"
TEST_OVERRIDE = PROJECT_ROOT / "tests" / "support" / "compose.test.yml"
DEFAULT_STARTUP_TIMEOUT = 180.0


class DockerUnavailable(RuntimeError):
    pass


def docker_mode(
    env: Mapping[str, str], engine: Callable[[Mapping[str, str]], bool] = docker_engine_answers
) -> bool:
    """Whether to test the built container; an explicit request without an engine is an error."""
    if env.get("RUN_DOCKER_INTEGRATION_TESTS", "").strip().lower() != "true":
        return False
    if not engine(env):
        raise DockerUnavailable(
            "RUN_DOCKER_INTEGRATION_TESTS=true but no Docker engine answered at "
            f"{env.get('DOCKER_HOST', 'unix:///var/run/docker.sock')}"
        )
    return True


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def build_image(tag: str) -> str:
    """docker/Dockerfile built as `tag`; PYTHON_IMAGE (if set) is its base image."""
    command = ["build", "--network", "host", "-f", "docker/Dockerfile", "-t", tag]
    base = os.environ.get("PYTHON_IMAGE", "").strip()
    if base:
        command += ["--build-arg", f"PYTHON_IMAGE={base}"]
    done = subprocess.run(
        ["docker", *command, "."],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise DockerUnavailable(f"docker build failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return tag


def remove_image(tag: str) -> None:
    docker("rmi", "--force", tag, timeout=300)


class ComposeStack:
    """One project of docker/docker-compose.yml: MySQL and the app, on a free port."""

    def __init__(self, image: str, wechat: FakeWeChat | None = None) -> None:
        self.project = f"it-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.image = image
        self.env = {
            **os.environ,
            "APP_IMAGE": image,
            "APP_PORT": str(self.port),
            "MYSQL_PASSWORD": secrets.token_urlsafe(18),
            "TOKEN_SECRET": secrets.token_urlsafe(48),
            "WX_SECRET": f"it-wx-secret-{secrets.token_hex(8)}",
            # Every test client comes from one address; the limits have tests of their own.
            "LOGIN_LIMIT_PER_ADDRESS": "100000",
            "LOGIN_LIMIT_PER_OPENID": "100000",
        }
        if wechat is not None:
            self.env |= {
                "WX_API_BASE": f"http://host.docker.internal:{wechat.port}",
                "WX_APPID": wechat.appid,
                "WX_SECRET": wechat.secret,
                "WX_READ_TIMEOUT": "1",  # as the local live server has it
            }
        self.workers = int(self.env.get("WEB_CONCURRENCY") or 2)  # the compose default
        self.startup_timeout = float(
            os.environ.get("DOCKER_STARTUP_TIMEOUT", DEFAULT_STARTUP_TIMEOUT)
        )

    @property
    def network(self) -> str:
        return f"{self.project}_default"

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "docker",
                "compose",
                "-f",
                str(COMPOSE_FILE),
                "-f",
                str(TEST_OVERRIDE),
                "-p",
                self.project,
                *args,
            ],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def container(self, service: str = "app") -> str:
        """The id of the service's (first) container."""
        ids = self.compose("ps", "-q", service, timeout=60).stdout.split()
        if not ids:
            raise DockerUnavailable(f"no {service} container in {self.project}")
        return ids[0]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise DockerUnavailable(
            f"the container was not ready within {self.startup_timeout:.0f} s "
            f"(DOCKER_STARTUP_TIMEOUT):\n{self.output()[-5000:]}"
        )

    def start(self) -> ComposeStack:
        up = self.compose("up", "--detach", "--no-build")
        if up.returncode != 0:
            self.stop()
            raise DockerUnavailable(f"docker compose up failed:\n{up.stderr}")
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def exec(self, *command: str, service: str = "app") -> subprocess.CompletedProcess[str]:
        return self.compose("exec", "-T", service, *command, timeout=120)

    def mysql(self, sql: str) -> str:
        """A statement run by the MySQL container's own client, as root."""
        done = self.exec(
            "mysql", "-uroot", f"-p{self.env['MYSQL_PASSWORD']}", "-N", "-e", sql, service="mysql"
        )
        if done.returncode != 0:
            raise DockerUnavailable(f"mysql in the container failed: {done.stderr}")
        return done.stdout

    def output(self) -> str:
        return self.compose("logs", "--no-color", "--no-log-prefix", "app", timeout=60).stdout

    def stop(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", timeout=300)

    def __enter__(self) -> ComposeStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
